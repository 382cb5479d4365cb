// The BPMN modeler (bpmn-js from the npm registry, served locally) with a properties panel for
// what our pathways need: a user task's form, a deadline's timer expression with its legal basis
// and extension, an element's name; the lane (role) is shown. Save a draft, check it, publish it.
(function () {
  var holder = document.getElementById("modeler");
  if (!holder) { return; }
  var panel = document.getElementById("properties");
  var status = document.getElementById("modeler-status");
  var forms = JSON.parse(holder.getAttribute("data-forms") || "[]");
  // [[code, name]] of the department registry's active kinds, and of the services a step may refer to.
  var departments = JSON.parse(holder.getAttribute("data-departments") || "[]");
  var services = JSON.parse(holder.getAttribute("data-services") || "[]");
  var csrf = holder.getAttribute("data-csrf");
  var T = JSON.parse(holder.getAttribute("data-labels") || "{}");
  var SPIFF = {
    name: "SpiffWorkflow", prefix: "spiffworkflow", uri: "http://spiffworkflow.org/bpmn/schema/1.0/core",
    xml: { tagAlias: "lowerCase" }, associations: [],
    types: [
      { name: "Properties", superClass: ["Element"], properties: [{ name: "values", type: "Property", isMany: true }] },
      { name: "Property", superClass: ["Element"], properties: [
        { name: "name", type: "String", isAttr: true }, { name: "value", type: "String", isAttr: true }] },
      { name: "CalledDecisionId", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "PreScript", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "PostScript", superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] },
      { name: "LoopScripts", extends: ["bpmn:MultiInstanceLoopCharacteristics"], properties: [
        { name: "scriptsOnInstances", type: "Boolean", isAttr: true }] }
    ]
  };
  if (typeof BpmnJS === "undefined") { holder.textContent = T.error + " (bpmn-js)"; return; }
  var modeler = new BpmnJS({ container: holder, moddleExtensions: { spiffworkflow: SPIFF } });
  var moddle = modeler.get("moddle"), modeling = modeler.get("modeling");

  function say(text, kind) { status.textContent = text; status.className = "flash flash-" + (kind || "info"); }

  function propsOf(bo, create) {
    var ext = bo.extensionElements;
    if (!ext && create) { ext = moddle.create("bpmn:ExtensionElements", { values: [] }); bo.extensionElements = ext; }
    if (!ext) { return null; }
    var found = (ext.values || []).filter(function (v) { return v.$type === "spiffworkflow:Properties"; })[0];
    if (!found && create) { found = moddle.create("spiffworkflow:Properties", { values: [] }); ext.get("values").push(found); }
    return found || null;
  }
  function getProp(bo, name) {
    var props = propsOf(bo, false);
    var hit = props && (props.values || []).filter(function (p) { return p.name === name; })[0];
    return hit ? hit.value : "";
  }
  function setProp(element, name, value) {
    var bo = element.businessObject, props = propsOf(bo, true);
    var hit = (props.values || []).filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (hit) { props.values.splice(props.values.indexOf(hit), 1); }
    } else if (hit) { hit.value = value; } else { props.get("values").push(moddle.create("spiffworkflow:Property", { name: name, value: value })); }
    modeling.updateProperties(element, { extensionElements: bo.extensionElements });
  }
  function timerOf(bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0];
  }
  function lanesOf(element) {
    // Our diagrams keep their lanes in the process (lanes name the role); the drawing may not show them.
    var process = element.businessObject.$parent;
    while (process && process.$type !== "bpmn:Process") { process = process.$parent; }
    var found = [];
    (process && process.laneSets || []).forEach(function (set) { (set.lanes || []).forEach(function (l) { found.push(l); }); });
    return found;
  }
  function laneOf(element) {
    var bo = element.businessObject;
    return lanesOf(element).filter(function (l) { return (l.flowNodeRef || []).indexOf(bo) >= 0; })[0] || null;
  }
  function moveToLane(element, lane) {
    var bo = element.businessObject;
    lanesOf(element).forEach(function (l) {
      var refs = l.get("flowNodeRef"), at = refs.indexOf(bo);
      if (at >= 0) { refs.splice(at, 1); }
    });
    if (lane) { lane.get("flowNodeRef").push(bo); }
    modeling.updateProperties(element, {});  // marks the diagram changed (undo, save)
  }

  function field(label, control) {
    var wrap = document.createElement("label"); wrap.className = "field";
    var span = document.createElement("span"); span.textContent = label;
    wrap.appendChild(span); wrap.appendChild(control); panel.appendChild(wrap);
    return control;
  }
  function input(value, onchange, name) {
    var el = document.createElement("input"); el.value = value || ""; el.name = name;
    el.addEventListener("change", function () { onchange(el.value.trim()); });
    return el;
  }

  function show(element) {
    panel.innerHTML = "";
    var head = document.createElement("h3");
    if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
      head.textContent = T.pick; panel.appendChild(head); return;
    }
    var bo = element.businessObject;
    head.textContent = element.type.replace("bpmn:", "") + " · " + element.id; panel.appendChild(head);
    field(T.name, input(bo.name, function (v) { modeling.updateProperties(element, { name: v }); }, "name"));
    if (element.type === "bpmn:UserTask") {
      var select = document.createElement("select"); select.name = "form";
      [""].concat(forms).forEach(function (key) {
        var option = document.createElement("option"); option.value = key; option.textContent = key || "—"; select.appendChild(option);
      });
      select.value = getProp(bo, "formJsonSchemaFilename");
      select.addEventListener("change", function () { setProp(element, "formJsonSchemaFilename", select.value); });
      field(T.form, select);
      var lanes = lanesOf(element), current = laneOf(element), pickLane = document.createElement("select");
      pickLane.name = "lane";
      [null].concat(lanes).forEach(function (l) {
        var option = document.createElement("option"); option.value = l ? l.id : ""; option.textContent = l ? l.name : T.noLane;
        pickLane.appendChild(option);
      });
      pickLane.value = current ? current.id : "";
      pickLane.addEventListener("change", function () {
        moveToLane(element, lanes.filter(function (l) { return l.id === pickLane.value; })[0] || null);
      });
      field(T.lane, pickLane);
      var dept = document.createElement("select"); dept.name = "department";
      var named = getProp(bo, "department");
      [["", "—"]].concat(departments).concat(named && !departments.some(function (d) { return d[0] === named; })
        ? [[named, named]] : []).forEach(function (pair) {
        var option = document.createElement("option"); option.value = pair[0];
        option.textContent = pair[0] ? pair[1] + " (" + pair[0] + ")" : pair[1]; dept.appendChild(option);
      });
      dept.value = named;
      dept.addEventListener("change", function () { setProp(element, "department", dept.value); });
      field(T.department, dept);
      var chosen = getProp(bo, "referrals").split(",").map(function (s) { return s.trim(); });
      var box = document.createElement("fieldset"); box.className = "field checks";
      var legend = document.createElement("legend"); legend.textContent = T.referrals; box.appendChild(legend);
      services.forEach(function (pair) {
        var wrap = document.createElement("label"), tick = document.createElement("input");
        tick.type = "checkbox"; tick.value = pair[0]; tick.name = "referrals"; tick.checked = chosen.indexOf(pair[0]) >= 0;
        tick.addEventListener("change", function () {
          var picked = Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; })
            .map(function (i) { return i.value; });
          setProp(element, "referrals", picked.join(","));
        });
        wrap.appendChild(tick); wrap.appendChild(document.createTextNode(" " + pair[1])); box.appendChild(wrap);
      });
      panel.appendChild(box);
    }
    var timer = timerOf(bo);
    if (timer) {
      var kind = timer.timeDate ? "timeDate" : timer.timeCycle ? "timeCycle" : "timeDuration";
      var current = timer[kind] ? timer[kind].body : "";
      field(T.expression, input(current, function (v) {
        var which = v.indexOf('"P') === 0 ? "timeDuration" : "timeDate", update = { timeDuration: undefined, timeDate: undefined };
        update[which] = moddle.create("bpmn:FormalExpression", { body: v });
        modeling.updateModdleProperties(element, timer, update);
      }, "expression"));
      field(T.basis, input(getProp(bo, "legalBasis"), function (v) { setProp(element, "legalBasis", v); }, "legalBasis"));
      field(T.maxExt, input(getProp(bo, "maxExtensionDays"), function (v) { setProp(element, "maxExtensionDays", v); }, "maxExtensionDays"));
      field(T.extBasis, input(getProp(bo, "extensionBasis"), function (v) { setProp(element, "extensionBasis", v); }, "extensionBasis"));
    }
  }

  function post(url) {
    return modeler.saveXML({ format: true }).then(function (result) {
      var body = new FormData(); body.append("xml", result.xml);
      return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrf } })
        .then(function (response) { return response.json(); });
    });
  }
  function report(answer, okText) {
    if (answer.problems && answer.problems.length) {
      say(T.problems + "\n" + answer.problems.join("\n"), "error");
    } else { say(answer.message || okText, "success"); }
  }
  document.getElementById("save-draft").addEventListener("click", function () {
    post(holder.getAttribute("data-draft")).then(function (a) { report(a, T.saved); });
  });
  document.getElementById("check-draft").addEventListener("click", function () {
    post(holder.getAttribute("data-check")).then(function (a) { report(a, T.checked); });
  });
  document.getElementById("publish-draft").addEventListener("click", function () {
    post(holder.getAttribute("data-publish")).then(function (a) { report(a, T.published); });
  });

  fetch(holder.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function (result) {
      modeler.get("canvas").zoom("fit-viewport");
      modeler.get("eventBus").on("selection.changed", function (e) { show(e.newSelection[0]); });
      show(null);
      if (result.warnings && result.warnings.length) {
        say(T.warnings + "\n" + result.warnings.map(function (w) { return w.message; }).join("\n"), "warning");
      }
      holder.setAttribute("data-ready", "1");
    })
    .catch(function (error) { say(T.error + ": " + error.message, "error"); });
})();
