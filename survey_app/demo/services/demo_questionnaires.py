"""Demo questionnaires: graduate employment and 16-indicator public satisfaction.

Both are written as XLSForm workbooks (built here with openpyxl, so the demo goes through the
same importer as a designer's upload), imported, published and attached to the demo survey
projects; the satisfaction survey gets an open link, the graduate survey a small demo sample
with personal invitations. Idempotent.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.core.errors import NotFound
from survey_app.fieldwork.models import (
    FrameStatus,
    FrameUnit,
    Invitation,
    InvitationKind,
    SampleDraw,
    SampleUnit,
    SamplingFrame,
)
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys
from survey_app.questionnaires.services import questionnaires

ACTOR = "demo-loader"


GRADUATE = "graduate-employment-2026"


SATISFACTION = "county-education-satisfaction-2026"


SURVEY_HEADER = ["type", "name", "label::中文 (zh)", "label::English (en)", "hint::中文 (zh)", "hint::English (en)",
                 "required", "relevant", "constraint", "constraint_message::中文 (zh)", "constraint_message::English (en)",
                 "calculation", "choice_filter", "appearance", "parameters"]


CHOICE_HEADER = ["list_name", "name", "label::中文 (zh)", "label::English (en)", "missing", "province"]


SATISFACTION_5 = [("1", "非常不满意", "Very dissatisfied"), ("2", "不满意", "Dissatisfied"), ("3", "一般", "Neutral"),
                  ("4", "满意", "Satisfied"), ("5", "非常满意", "Very satisfied")]


DONT_KNOW = ("dk", "不了解", "Don't know")


INDICATORS = [
    ("学前教育学位供给", "Enough kindergarten places"),
    ("义务教育入学公平", "Fair admission to compulsory schooling"),
    ("学校办学条件", "School buildings and facilities"),
    ("校园安全", "Safety at school"),
    ("教师师德师风", "Teachers' professional ethics"),
    ("教育教学质量", "Quality of teaching"),
    ("学生作业负担", "Reasonable homework load"),
    ("课后服务", "After-school services"),
    ("学生身心健康", "Pupils' physical and mental health"),
    ("德育工作", "Moral education"),
    ("学校食堂与营养", "School meals and nutrition"),
    ("家庭经济困难学生资助", "Support for pupils from low-income families"),
    ("随迁子女入学", "Schooling for children of migrant workers"),
    ("职业教育", "Vocational education"),
    ("家校沟通", "Communication between home and school"),
    ("教育投诉处理", "Handling of complaints about education"),
]


DESTINATIONS = [("10", "签就业协议形式就业", "Signed employment agreement"), ("11", "签劳动合同形式就业", "Labour contract"),
                ("12", "其他录用形式就业", "Other hiring forms"), ("27", "科研助理、管理助理", "Research or management assistant"),
                ("46", "应征义务兵", "Conscripted soldier"), ("50", "国家基层项目", "National grassroots programme"),
                ("51", "地方基层项目", "Local grassroots programme"), ("75", "自主创业", "Self-employed / entrepreneur"),
                ("76", "自由职业", "Freelance"), ("80", "境内升学", "Further study in China"), ("85", "出国、出境", "Study abroad"),
                ("70", "待就业", "Seeking work"), ("71", "不就业拟升学", "Preparing for further study"),
                ("72", "其他暂不就业", "Other, not working")]


EMPLOYED = "${destination} < 70 or ${destination} = 75 or ${destination} = 76"


def _q(qtype: str, name: str, zh: str = "", en: str = "", **extra: str) -> list[str]:
    row = dict.fromkeys(SURVEY_HEADER, "")
    row.update({"type": qtype, "name": name, "label::中文 (zh)": zh, "label::English (en)": en})
    keys = {"hint_zh": "hint::中文 (zh)", "hint_en": "hint::English (en)", "msg_zh": "constraint_message::中文 (zh)",
            "msg_en": "constraint_message::English (en)"}
    for key, value in extra.items():
        row[keys.get(key, key)] = value
    return [row[h] for h in SURVEY_HEADER]


def _choices(list_name: str, entries: Sequence[tuple[str, ...]], missing: Sequence[str] = ()) -> list[list[str]]:
    rows = []
    for entry in entries:
        name, zh, en = entry[:3]
        rows.append([list_name, name, zh, en, "yes" if name in missing else "", entry[3] if len(entry) > 3 else ""])
    return rows


def _workbook(survey: list[list[str]], choices: list[list[str]], settings: dict[str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(SURVEY_HEADER)
    for row in survey:
        sheet.append(row)
    sheet = book.create_sheet("choices")
    sheet.append(CHOICE_HEADER)
    for row in choices:
        sheet.append(row)
    sheet = book.create_sheet("settings")
    sheet.append(list(settings))
    sheet.append(list(settings.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def satisfaction_xlsform() -> bytes:
    """The county education satisfaction questionnaire (16 indicators, 5-point scale + don't know)."""
    survey = [
        _q("begin group", "about", "基本情况", "About you"),
        _q("note", "intro", "本调查由第三方独立开展，约需5分钟，答案仅用于统计。", "This survey is run by an independent third party, takes about 5 minutes, and your answers are used only for statistics."),
        _q("select_one county", "county", "您常住的县（市、区）", "The county you live in", required="yes"),
        _q("select_one sex", "sex", "性别", "Sex", required="yes"),
        _q("select_one age_group", "age_group", "年龄", "Age group", required="yes"),
        _q("select_one area", "area", "居住地", "Where you live", required="yes"),
        _q("select_multiple relation", "relation", "您与学校的关系（可多选）", "Your relation to schools (choose all that apply)", required="yes",
           constraint="not(selected(., 'none') and count-selected(.) > 1)",
           msg_zh="“以上都不是”不能与其他选项同时选择。", msg_en="'None of these' cannot be combined with other answers."),
        _q("text", "phone", "手机号码", "Mobile phone number", required="yes",
           hint_zh="仅用于防止重复作答，只保存为不可逆的编码。", hint_en="Used only to prevent duplicate answers; stored only as a one-way code.",
           constraint="regex(., '1[3-9][0-9]{9}')", msg_zh="请输入11位手机号码。", msg_en="Please enter an 11-digit mobile number."),
        _q("end group", ""),
        _q("begin group", "indicators_a", "对本县教育工作的满意度（一）", "Satisfaction with education in your county (1)", appearance="table-list"),
        *[_q("select_one sat5", f"i{n:02d}", zh, en, required="yes") for n, (zh, en) in enumerate(INDICATORS[:8], start=1)],
        _q("end group", ""),
        _q("begin group", "indicators_b", "对本县教育工作的满意度（二）", "Satisfaction with education in your county (2)", appearance="table-list"),
        *[_q("select_one sat5", f"i{n:02d}", zh, en, required="yes") for n, (zh, en) in enumerate(INDICATORS[8:], start=9)],
        _q("end group", ""),
        _q("begin group", "overall_page", "总体评价", "Overall"),
        _q("select_one sat5", "overall", "总体而言，您对本县教育工作是否满意？", "Overall, how satisfied are you with education in your county?",
           required="yes", appearance="likert"),
        _q("text", "suggestion", "您对本县教育工作有什么建议？", "What would you suggest to improve education in your county?",
           relevant="${overall} != '' and ${overall} <= 2", appearance="multiline"),
        _q("end group", ""),
    ]
    choices = [
        *_choices("county", [("c01", "东湖县", "Donghu County"), ("c02", "西山县", "Xishan County"), ("c03", "南河市", "Nanhe City"),
                             ("c04", "北岭县", "Beiling County"), ("c05", "中原区", "Zhongyuan District")]),
        *_choices("sex", [("1", "男", "Male"), ("2", "女", "Female")]),
        *_choices("age_group", [("15_24", "15-24岁", "15-24"), ("25_34", "25-34岁", "25-34"), ("35_44", "35-44岁", "35-44"),
                                ("45_54", "45-54岁", "45-54"), ("55_65", "55-65岁", "55-65")]),
        *_choices("area", [("urban", "城镇", "Urban"), ("rural", "农村", "Rural")]),
        *_choices("relation", [("parent", "学生家长", "Parent of a pupil"), ("student", "在校学生", "Student"),
                               ("staff", "教职工", "School staff"), ("none", "以上都不是", "None of these")]),
        *_choices("sat5", [*SATISFACTION_5, DONT_KNOW], missing=("dk",)),
    ]
    settings = {"form_title::中文 (zh)": "县域教育工作群众满意度调查问卷", "form_title::English (en)": "Public satisfaction with county education",
                "form_id": "county_education_satisfaction", "version": "2026.1", "default_language": "zh", "unique_question": "phone"}
    return _workbook(survey, choices, settings)


def graduate_xlsform() -> bytes:
    """The graduate employment questionnaire: destination, job, further study, job search."""
    survey = [
        _q("begin group", "about", "基本信息", "About you"),
        _q("select_one sex", "sex", "性别", "Sex", required="yes"),
        _q("select_one degree", "degree", "学历层次", "Degree level", required="yes"),
        _q("select_one destination", "destination", "您目前的毕业去向", "Your current destination", required="yes"),
        _q("end group", ""),
        _q("begin group", "job", "工作情况", "Your job", relevant=EMPLOYED),
        _q("select_one province", "work_province", "工作所在省份", "Province of work", required="yes"),
        _q("select_one city", "work_city", "工作所在城市", "City of work", required="yes", choice_filter="province = ${work_province}"),
        _q("integer", "salary", "税前月收入（元）", "Monthly income before tax (yuan)", required="yes", parameters="min=0 max=200000",
           constraint=". = 0 or . >= 500", msg_zh="无收入请填0，否则不低于500元。", msg_en="Enter 0 if you have no income, otherwise at least 500."),
        _q("date", "start_date", "开始工作日期", "Date you started", constraint=". <= today()",
           msg_zh="日期不能晚于今天。", msg_en="The date cannot be in the future."),
        _q("select_one agree5", "job_match", "工作与所学专业相关", "My job matches my field of study", required="yes", appearance="likert"),
        _q("end group", ""),
        _q("begin group", "study", "升学情况", "Further study", relevant="${destination} = 80 or ${destination} = 85"),
        _q("text", "institution", "录取院校", "Admitting institution", required="yes"),
        _q("end group", ""),
        _q("begin group", "seeking", "求职情况", "Looking for work", relevant="${destination} >= 70 and ${destination} <= 72"),
        _q("select_multiple support", "support", "您希望得到哪些就业帮助？", "What help would you like?", required="yes",
           constraint="not(selected(., 'none') and count-selected(.) > 1)",
           msg_zh="“不需要”不能与其他选项同时选择。", msg_en="'No help needed' cannot be combined with other answers."),
        _q("integer", "applications", "已投递简历数", "Applications sent so far", parameters="min=0 max=1000"),
        _q("end group", ""),
        _q("begin group", "closing", "总体评价", "Overall"),
        _q("select_one agree5", "satisfied", "我对学校的就业指导服务满意", "I am satisfied with my school's career services", required="yes", appearance="likert"),
        _q("text", "comments", "其他意见", "Other comments", appearance="multiline"),
        _q("calculate", "employed", calculation=f"if({EMPLOYED}, 1, 0)"),
        _q("end group", ""),
    ]
    choices = [
        *_choices("sex", [("1", "男", "Male"), ("2", "女", "Female")]),
        *_choices("degree", [("vocational", "专科", "Vocational college"), ("bachelor", "本科", "Bachelor"),
                             ("master", "硕士研究生", "Master"), ("doctor", "博士研究生", "Doctorate")]),
        *_choices("destination", DESTINATIONS),
        *_choices("province", [("gd", "广东", "Guangdong"), ("zj", "浙江", "Zhejiang"), ("sc", "四川", "Sichuan")]),
        *_choices("city", [("gz", "广州", "Guangzhou", "gd"), ("sz", "深圳", "Shenzhen", "gd"), ("hz", "杭州", "Hangzhou", "zj"),
                           ("nb", "宁波", "Ningbo", "zj"), ("cd", "成都", "Chengdu", "sc"), ("my", "绵阳", "Mianyang", "sc")]),
        *_choices("agree5", [("1", "非常不同意", "Strongly disagree"), ("2", "不同意", "Disagree"), ("3", "一般", "Neutral"),
                             ("4", "同意", "Agree"), ("5", "非常同意", "Strongly agree"), DONT_KNOW], missing=("dk",)),
        *_choices("support", [("counselling", "就业咨询", "Career counselling"), ("fairs", "招聘会", "Job fairs"),
                              ("training", "技能培训", "Skills training"), ("none", "不需要", "No help needed")]),
    ]
    settings = {"form_title::中文 (zh)": "高校毕业生就业状况调查问卷", "form_title::English (en)": "Graduate employment questionnaire",
                "form_id": "graduate_employment", "version": "2026.1", "default_language": "zh"}
    return _workbook(survey, choices, settings)


def _questionnaire(session: Session, project: SurveyProject, data: bytes, filename: str, summary: Any) -> None:
    if questionnaires.current_published(session, project.id) is not None:
        summary.existing.append(f"questionnaire {project.code}")
        return
    version = questionnaires.import_xlsform(session, project, data, filename, actor_label=ACTOR)
    questionnaires.publish(session, version, actor_label=ACTOR)
    summary.created.append(f"questionnaire {project.code} v{version.number}")


def demo_sample(session: Session, project: SurveyProject, size: int = 5) -> list[SampleUnit]:
    frame = SamplingFrame(project_id=project.id, name="演示毕业生名单 Demo graduates", source_filename="demo",
                          columns={"unit_id": "student_no", "stratum": "college", "contact": [], "attributes": ["college"]},
                          row_count=size * 4, status=FrameStatus.READY)
    session.add(frame)
    session.flush()
    units = [FrameUnit(frame_id=frame.id, row_number=i + 1, unit_key=f"G2026{i + 1:04d}", stratum="demo",
                       attributes={"college": "demo"}, contact={}) for i in range(size * 4)]
    session.add_all(units)
    draw = SampleDraw(project_id=project.id, frame_id=frame.id, label="demo", method="srswor", seed=20260901,
                      sample_size=size, allocation={"demo": size}, manifest={"note": "demo sample (every 4th unit)"})
    session.add(draw)
    session.flush()
    picked = [SampleUnit(draw_id=draw.id, frame_unit_id=units[i * 4].id, stratum="demo", stratum_population=len(units),
                         inclusion_probability=size / len(units), design_weight=len(units) / size, stage={})
              for i in range(size)]
    session.add_all(picked)
    session.flush()
    return picked


def load(session: Session, summary: Any) -> None:
    """Add the demo questionnaires, the open link and the personal invitations that are missing."""
    try:
        graduate = surveys.get_project_by_code(session, GRADUATE)
        satisfaction = surveys.get_project_by_code(session, SATISFACTION)
    except NotFound:
        return
    _questionnaire(session, satisfaction, satisfaction_xlsform(), "county-education-satisfaction.xlsx", summary)
    _questionnaire(session, graduate, graduate_xlsform(), "graduate-employment.xlsx", summary)
    if not invitations.list_for_project(session, satisfaction, InvitationKind.OPEN):
        invitations.create_open_link(session, satisfaction, "演示公开链接 Demo open link", actor_label=ACTOR)
        summary.created.append(f"open link {SATISFACTION}")
    if not invitations.list_for_project(session, graduate, InvitationKind.PERSONAL):
        invitations.issue_personal(session, graduate, demo_sample(session, graduate), actor_label=ACTOR)
        summary.created.append(f"personal invitations {GRADUATE}")


def respondent_links(session: Session) -> list[tuple[str, str]]:
    """(what, path) of demo links to print: the open link and one personal invitation."""
    links = []
    for code, kind in ((SATISFACTION, InvitationKind.OPEN), (GRADUATE, InvitationKind.PERSONAL)):
        token = session.scalars(
            select(Invitation.token).join(SurveyProject, SurveyProject.id == Invitation.project_id)
            .where(SurveyProject.code == code, Invitation.kind == kind).order_by(Invitation.id).limit(1)
        ).first()
        if token is not None:
            links.append((f"{code} ({kind.value})", f"/r/{token}"))
    return links
