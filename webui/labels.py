"""Display labels for case fields, taken from the forms of the case's own process version."""
from .i18n import pick

STATUS = {"open": ("办理中", "Open"), "completed": ("已办结", "Completed"), "error": ("出错", "Error")}
ROUTE = {"mediation": ("人民调解", "People's mediation"), "petition": ("信访", "Petition"),
         "specialist": ("部门办理（分科诊断 / 全科会诊）", "Department handling (specialist, joint consultation)"),
         "consultation": ("咨询", "Consultation"), "law_related": ("涉法涉诉，导入司法程序", "Law-related, to the courts"),
         "arbitration": ("引导仲裁", "Guided to arbitration"), "reconsideration": ("行政复议", "Administrative reconsideration"),
         "ruling": ("行政裁决", "Administrative ruling"),
         "redirect": ("告知由已受理的机关处理 / 引导至其他渠道", "To the body that holds it, or another channel"),
         # Cases filed before the pathway library kept this route.
         "complaint": ("投诉举报", "Complaint or report")}
COMMITTEE = {"general": ("人民调解委员会", "People's mediation committee"),
             "traffic": ("交通事故纠纷调解", "Traffic accident mediation"),
             "medical": ("医疗纠纷人民调解委员会", "Medical dispute mediation committee"),
             "labour": ("劳动争议调解组织", "Labour dispute mediation"),
             "property": ("物业纠纷调解委员会", "Property management mediation"),
             "family": ("婚姻家庭纠纷调解委员会", "Marriage and family mediation")}
CHANNEL = {"labour_arbitration": ("劳动人事争议仲裁", "Labour and personnel arbitration"),
           "land_arbitration": ("农村土地承包经营纠纷仲裁", "Rural land contract arbitration"),
           "commercial_arbitration": ("商事仲裁", "Commercial arbitration")}
RISK_LEVEL = {"blue": ("蓝色（一般）", "Blue (low)"), "yellow": ("黄色（较大）", "Yellow (elevated)"),
              "red": ("红色（重大）", "Red (high)")}
RISK = {"red": "risk-red", "yellow": "risk-yellow", "blue": "risk-blue"}
EVENT_KINDS = {
    "case_started": ("立案", "Case started"), "task_completed": ("提交", "Submitted"),
    "task_claimed": ("认领", "Claimed"), "task_released": ("退回待领", "Released"),
    "timer_fired": ("期限届满", "Deadline passed"), "engine": ("流程流转", "Engine step"),
    "step_failed": ("执行出错", "Step failed"), "repeat_visit": ("重复来访", "Repeat visit"),
    "case_escalated": ("上报上级", "Escalated"), "case_assigned_down": ("指派下级", "Assigned down"),
    "transfer_acknowledged": ("签收", "Acknowledged"), "transfer_returned": ("逾期退回", "Returned unacknowledged"),
    "case_reopened": ("重新办理", "Reopened"), "deadline_extended": ("延长期限", "Deadline extended"),
    "clock_stopped": ("停止计时", "Clock stopped"), "deadline_recomputed": ("期限重新计算", "Deadline recomputed"), "clock_restarted": ("恢复计时", "Clock restarted"),
    "task_reassigned": ("督办改派", "Reassigned"), "task_claimed_on_behalf": ("代为认领", "Claimed on behalf"),
    "case_flagged": ("挂牌督办", "Listed for supervision"), "case_unflagged": ("撤销挂牌", "Lifted from supervision"),
    "reminder_sent": ("督办提醒", "Reminder sent"),
    "risk_assessed": ("风险评估", "Risk assessed"), "risk_reassessed": ("风险重新评估", "Risk re-assessed"),
    "triaged": ("分流", "Routed"), "case_migrated": ("迁移版本", "Moved to another version"),
}
STATES = {"FUTURE": ("未开始", "not started"), "LIKELY": ("未开始", "not started"),
          "MAYBE": ("未开始", "not started"), "DEFINITE": ("未开始", "not started"), "READY": ("待办", "ready"), "COMPLETED": ("完成", "completed"), "WAITING": ("计时中", "waiting"),
          "CANCELLED": ("取消", "cancelled"), "STARTED": ("进行中", "started"), "ERROR": ("出错", "error")}

_vocab_cache = {}


def vocab(version):
    """{field name: {value: (zh, en)}} from every form of a version."""
    found = _vocab_cache.get(version.id)
    if found is None:
        found = {}
        for definition in version.forms.values():
            for name, prop in definition["schema"].get("properties", {}).items():
                if "x-enum-labels" in prop:
                    found.setdefault(name, prop["x-enum-labels"])
        _vocab_cache[version.id] = found
    return found


def case_label(case, field):
    value = getattr(case, field)
    if value is None:
        return ""
    labels = vocab(case.process_version).get(field, {})
    return pick(labels[value]) if value in labels else value


def label(table, value):
    return pick(table[value]) if value in table else (value or "")
