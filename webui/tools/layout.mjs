// Adds a drawn layout (BPMN DI) to diagrams written without one, using bpmn-auto-layout.
// Only the DI is taken from the layout: the diagram's own XML (extensions, multi-instance
// references the modeler's schema does not resolve) is kept exactly as written.
// Usage: node webui/tools/layout.mjs bpmn/some.bpmn [...]   (files that already have DI are skipped)
import { layoutProcess } from 'bpmn-auto-layout';
import fs from 'node:fs';

for (const file of process.argv.slice(2)) {
  const xml = fs.readFileSync(file, 'utf8');
  if (xml.includes('<bpmndi:BPMNDiagram')) {
    console.log(`${file}: has a layout, left as is`);
    continue;
  }
  const laid = await layoutProcess(xml);
  const diagram = laid.match(/<bpmndi:BPMNDiagram[\s\S]*<\/bpmndi:BPMNDiagram>/);
  if (!diagram) throw new Error(`${file}: the layout produced no diagram`);
  fs.writeFileSync(file, xml.replace('</bpmn:definitions>', `  ${diagram[0]}\n</bpmn:definitions>`));
  console.log(`${file}: laid out`);
}
