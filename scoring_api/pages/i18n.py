"""The pages' words in Chinese (zh-CN, the default) and English."""

from __future__ import annotations

import re
from collections.abc import Callable

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LANGUAGE_COOKIE = "leadflow_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "product": ("leadflow 询盘", "leadflow inquiries"),
    "my_queue": ("我的询盘", "My queue"),
    "team": ("团队", "Team"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "sign_in_failed": ("用户名或密码不正确。", "The username or password is not right."),
    "sign_in_throttled": (
        "失败次数过多，请 15 分钟后再试。",
        "Too many failed attempts: try again in 15 minutes.",
    ),
    "form_expired": ("表单已过期，请重新提交。", "The form expired: please send it again."),
    "filters": ("筛选", "Filters"),
    "apply": ("筛选", "Apply"),
    "reset": ("清除", "Clear"),
    "all": ("全部", "All"),
    "tier": ("等级", "Tier"),
    "channel": ("渠道", "Channel"),
    "product_category": ("产品", "Product"),
    "country": ("国家", "Country"),
    "age": ("询盘时长", "Age"),
    "owner": ("负责人", "Owner"),
    "owner_mine": ("我的", "Mine"),
    "owner_unassigned": ("未分配", "Unassigned"),
    "owner_assigned": ("已分配", "Assigned"),
    "owner_any": ("全部", "Everyone's"),
    "overdue_only": ("仅超时未跟进", "Past deadline only"),
    "age_any": ("不限", "Any"),
    "age_24": ("24 小时内", "Last 24 h"),
    "age_168": ("7 天内", "Last 7 days"),
    "age_720": ("30 天内", "Last 30 days"),
    "score": ("评分", "Score"),
    "probability": ("成交概率", "Likelihood"),
    "company": ("公司", "Company"),
    "contact": ("联系人", "Contact"),
    "quantity": ("数量", "Qty"),
    "deadline": ("跟进时限", "Follow up by"),
    "overdue": ("已超时", "Overdue"),
    "contacted": ("已联系", "Contacted"),
    "no_deadline": ("无时限", "No deadline"),
    "unassigned": ("未分配", "Unassigned"),
    "showing": ("第 {first}–{last} 条，共 {total} 条", "{first}–{last} of {total}"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "empty_queue": ("没有符合条件的询盘。", "No open inquiry matches these filters."),
    "no_queue_yet": (
        "评分尚未发布：服务启动后几秒钟内即会出现。",
        "No scores are published yet: they appear seconds after the service starts.",
    ),
    "why": ("评分依据", "Why this score"),
    "raises": ("提高", "raises"),
    "lowers": ("降低", "lowers"),
    "points": ("分", "points"),
    "the_buyer": ("客户", "The buyer"),
    "the_ask": ("询盘内容", "What they asked"),
    "email": ("邮箱", "Email"),
    "phone": ("电话", "Phone"),
    "target_price": ("目标单价", "Target unit price"),
    "list_price": ("目录单价", "List unit price"),
    "customisation": ("定制", "Customisation"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "incoterm": ("贸易术语", "Incoterm"),
    "delivery_deadline": ("交货期限", "Needed by"),
    "message": ("留言", "Message"),
    "submitted": ("提交时间", "Submitted"),
    "actions": ("记录跟进", "Record what happened"),
    "claim": ("认领", "Claim"),
    "claim_help": ("这条询盘尚未分配，认领后由你跟进。", "Nobody holds this lead yet: claim it."),
    "assign": ("分配", "Assign"),
    "assign_to": ("分配给", "Assign to"),
    "rep": ("销售", "Rep"),
    "distributor": ("经销商", "Distributor"),
    "log_contact": ("记录联系", "Log a contact"),
    "medium": ("方式", "How"),
    "medium_phone": ("电话", "Call"),
    "medium_email": ("邮件", "Email"),
    "medium_wechat": ("微信", "WeChat"),
    "medium_visit": ("拜访", "Visit"),
    "medium_other": ("其他", "Other"),
    "send_quote": ("发送报价", "Send a quote"),
    "unit_price": ("单价", "Unit price"),
    "currency": ("币种", "Currency"),
    "valid_days": ("有效天数", "Valid for (days)"),
    "customisation_answer": ("定制可行性", "Customisation answer"),
    "feasible": ("可以定制", "Feasible"),
    "infeasible": ("无法定制", "Not feasible"),
    "lead_time_days": ("交期（天）", "Lead time (days)"),
    "outcome": ("结果", "Outcome"),
    "won": ("成交", "Won"),
    "lost": ("丢单", "Lost"),
    "lost_reason": ("丢单原因", "Lost reason"),
    "note": ("备注", "Note"),
    "record": ("记录", "Record"),
    "recorded": (
        "已记录（{event}），几秒钟内生效。",
        "Recorded ({event}); it shows within seconds.",
    ),
    "closed_recorded": (
        "已记录 {inquiry} 的结果，它将在几秒钟内离开队列。",
        "The outcome of {inquiry} is recorded; it leaves the queue within seconds.",
    ),
    "n_inquiries": ("{n} 次询盘", "{n} inquiries"),
    "n_orders": ("{n} 个订单", "{n} orders"),
    "n_shipments": ("{n} 次发货", "{n} shipments"),
    "revenue": ("成交额", "revenue"),
    "add_note": ("添加备注", "Add a note"),
    "notes": ("备注", "Notes"),
    "history": ("评分变化", "Score history"),
    "customer_360": ("客户全景", "Customer 360"),
    "timeline": ("时间线", "Timeline"),
    "source_web": ("网站", "web"),
    "source_sales": ("销售", "sales"),
    "source_logistics": ("物流", "logistics"),
    "kind_inquiry": ("询盘", "inquiry"),
    "kind_quote": ("报价", "quote"),
    "kind_order": ("订单", "order"),
    "kind_shipment": ("发货", "shipment"),
    "kind_session": ("访问", "visit"),
    "n_page_views": ("浏览 {n} 页", "{n} page views"),
    "shipment_exception": ("异常", "problem"),
    "stage_customer": ("已成交客户", "customer"),
    "stage_prospect": ("潜在客户", "prospect"),
    "identity_links": ("为何归为同一客户", "Why these records are one customer"),
    "link_when": ("时间", "When"),
    "link_records": ("记录", "Records"),
    "link_why": ("依据", "Why"),
    "link_event": ("事件", "Event"),
    "link_more_events": ("等 {n} 个事件", "and {n} more"),
    "not_built_yet": (
        "客户视图在下一次构建后出现（约几分钟）。",
        "The customer view appears after the next build (minutes).",
    ),
    "lead_not_found": (
        "没有这条询盘：可能已关闭、尚未评分，或不属于你。",
        "No such lead in your queue: closed, not scored yet, or not yours.",
    ),
    "deadline_breaches": ("超时未跟进", "Past follow-up deadline"),
    "standard": ("赢单率标准", "The win-rate standard"),
    "since": ("自 {since} 起提交的询盘", "inquiries submitted since {since}"),
    "handled": ("负责询盘", "Handled"),
    "median_first_response": ("首次响应中位数", "Median first response"),
    "win_rate": ("赢单率", "Win rate"),
    "ended_in_order": ("成单", "Ended in an order"),
    "top_lost_reasons": ("主要丢单原因", "Top lost reasons"),
    "forbidden": ("你的角色不能执行此操作。", "Your role may not do this."),
    "scorer_scorecard": (
        "尚未训练模型：评分来自规则评分卡。",
        "No model trained yet: scores come from the rule-based scorecard.",
    ),
    # ad-hoc SQL (the /sql page)
    "sql": ("SQL 查询", "SQL"),
    "sql_title": ("自助 SQL 查询", "Ad-hoc SQL"),
    "sql_help": (
        "对已发布的数据集市运行一条只读 SELECT：本页最多显示 {rows} 行"
        "（API POST /v1/sql 最多返回 {cap} 行），超过 {seconds} 秒即停止。",
        "Run one read-only SELECT over the published marts: this page shows up to {rows} rows "
        "(the API, POST /v1/sql, returns up to {cap}), and a query is stopped after {seconds} s.",
    ),
    "sql_query": ("查询语句", "Query"),
    "sql_run": ("运行", "Run"),
    "sql_save_as": ("保存为", "Save as"),
    "sql_name": ("名称", "Name"),
    "sql_description": ("说明", "Description"),
    "sql_save": ("保存", "Save"),
    "sql_saved_queries": ("已保存的查询", "Saved queries"),
    "sql_open": ("打开", "Open"),
    "sql_delete": ("删除", "Delete"),
    "sql_tables": ("可查询的表", "Tables you can query"),
    "sql_columns": ("{n} 列", "{n} columns"),
    "sql_rows": ("{n} 行，用时 {ms} 毫秒", "{n} rows in {ms} ms"),
    "sql_truncated": (
        "结果超过 {cap} 行，只显示前 {cap} 行。",
        "More than {cap} rows: only the first {cap} are shown.",
    ),
    "sql_no_rows": ("查询没有返回任何行。", "The query returned no rows."),
    "sql_published_at": ("数据发布于 {at}", "Marts published {at}"),
    "sql_saved_by": ("{owner} 保存", "saved by {owner}"),
    "sql_example": ("示例", "example"),
    "sql_saved_done": ("已保存“{name}”。", "Saved “{name}”."),
    "sql_deleted_done": ("已删除“{name}”。", "Deleted “{name}”."),
    "sql_name_rule": (
        "名称最多 80 个字符：字母、数字或汉字，中间可有空格、点、横线和下划线。",
        "A name has at most 80 characters: letters, digits or Chinese characters, with "
        "spaces, dots, dashes and underscores inside.",
    ),
    "sql_name_taken": ("已有名为“{name}”的查询。", "A query is saved as “{name}” already."),
    "sql_not_found": ("没有名为“{name}”的查询。", "No query is saved as “{name}”."),
    "sql_not_yours": (
        "只有保存者（{owner}）或管理员可以删除“{name}”。",
        "Only {owner} (who saved it) or an admin may delete “{name}”.",
    ),
    "sql_refused": ("查询未运行", "The query did not run"),
    # the leadership workspace
    "kpis": ("关键指标", "KPIs"),
    "reports": ("报表", "Reports"),
    "partial_period": ("未完整周期", "partial period"),
    "period_span": ("{start} 至 {end}（不含）", "{start} to {end} (exclusive)"),
    "company_time": ("按 {zone} 时间划分", "cut in {zone} time"),
    "amounts_in": ("金额单位 {currency}", "amounts in {currency}"),
    "grain_week": ("周", "Week"),
    "grain_month": ("月", "Month"),
    "grain_quarter": ("季度", "Quarter"),
    "grain_year": ("年", "Year"),
    "pick_date": ("日期", "Date"),
    "show": ("查看", "Show"),
    "earlier": ("上一期", "Earlier"),
    "later": ("下一期", "Later"),
    "print": ("打印", "Print"),
    "status_green": ("正常", "on track"),
    "status_amber": ("黄色预警", "amber alert"),
    "status_red": ("红色预警", "red alert"),
    "status_not_judged": ("未评判", "not judged"),
    "status_no_data": ("无数据", "no data"),
    "status_not_measured": ("无法计算", "not measured"),
    "line_amber": ("黄线", "amber line"),
    "line_red": ("红线", "red line"),
    "fired_below": ("低于{line} {value}", "below the {line} of {value}"),
    "fired_above": ("高于{line} {value}", "above the {line} of {value}"),
    "target": ("目标", "target"),
    "target_met": ("已达目标", "target met"),
    "between_target_and_amber": (
        "未达目标，但在预警线内",
        "short of target, within the alert lines",
    ),
    "not_judged_partial": (
        "本期尚未结束：累计指标在周期结束后再评判",
        "the period is not over: a count is judged once it is whole",
    ),
    "no_data_in_period": ("本期没有可计算的数据", "nothing in this period to compute it from"),
    "vs_previous": ("环比", "vs previous"),
    "vs_year_ago": ("同比", "vs year ago"),
    "lines": ("目标/预警", "lines"),
    "not_comparable": ("不可比（有未完整周期）", "not comparable (a partial period)"),
    "trend_of": ("{name}趋势", "trend of {name}"),
    "kpis_unusable": ("关键指标配置文件无法使用：{error}", "The KPI file cannot be used: {error}"),
    "value": ("数值", "value"),
    "status": ("状态", "status"),
    "period": ("周期", "period"),
    "inquiry": ("询盘", "Inquiry"),
    "classification": ("询盘分类汇总", "Inquiry classification"),
    "grain": ("周期", "Period"),
    "rows_by": ("行", "Rows"),
    "then_by": ("再按", "Then by"),
    "dim_channel": ("渠道", "Channel"),
    "dim_product_category": ("产品线", "Product line"),
    "dim_region": ("地区", "Region"),
    "dim_country": ("国家", "Country"),
    "dim_intent": ("意向等级", "Intent (arrival tier)"),
    "dim_handler": ("销售/经销商", "Rep or distributor"),
    "total": ("合计", "Total"),
    "subtotal": ("小计", "Subtotal"),
    "inquiries": ("询盘", "Inquiries"),
    "quoted": ("已报价", "Quoted"),
    "expired": ("过期", "Expired"),
    "open": ("跟进中", "Open"),
    "lost_other": ("其他/未注明", "other or none"),
    "conversion_rate": ("转化率", "Conversion"),
    "state": ("状态", "State"),
    "state_won": ("成交", "won"),
    "state_won_late": ("超期成交", "won late"),
    "state_lost": ("丢单", "lost"),
    "state_expired": ("过期", "expired"),
    "state_open": ("跟进中", "open"),
    "order_amount": ("订单金额", "Order amount"),
    "bad_request": ("请求参数不正确。", "The request's parameters are not right."),
    "drill_title": ("明细询盘", "The inquiries behind it"),
    "drill_state_all": ("本期全部询盘", "every inquiry of the period"),
    "drill_state_won": ("本期成交询盘", "the period's won inquiries"),
    "drill_state_open": ("本期跟进中询盘", "the period's open inquiries"),
    "drill_count": ("显示 {shown} / 共 {total} 条", "{shown} shown of {total}"),
    "back": ("返回", "Back"),
    "campaign": ("推广活动", "Campaign"),
    "order": ("订单", "Order"),
    "placed": ("下单时间", "Placed"),
    "drill_shown": ("条数", "rows"),
    "period_kind": ("周期类型", "Period grain"),
    "drill_orders": ("本期成交订单", "the period's won orders"),
    "drill_state_contacted": ("本期已联系询盘", "the period's contacted inquiries"),
    "drill_state_quoted": ("本期已报价询盘", "the period's quoted inquiries"),
    "drill_state_lost": ("本期丢单询盘", "the period's lost inquiries"),
    "drill_state_expired": ("本期过期询盘", "the period's expired inquiries"),
    "click_to_drill": (
        "点击带下划线的数字查看明细",
        "click an underlined figure for what it counts",
    ),
    "promotion": ("宣传成本投入产出", "Promotion input–output"),
    "ad_spend": ("推广花费", "Spend"),
    "cost_per_inquiry": ("单个询盘成本", "Cost per inquiry"),
    "won_orders": ("成交订单", "Won orders"),
    "won_revenue": ("成交金额", "Won revenue"),
    "cost_per_won_order": ("单个成交成本", "Cost per won order"),
    "roi": ("投资回报率", "ROI"),
    "won_inquiries": ("成交询盘", "Won inquiries"),
    "no_spend_recorded": ("未记录花费", "no spend recorded"),
    "promotion_note": (
        "花费按记录日期、询盘按提交日期、成交订单与金额按下单日期计入周期；成交询盘与转化率是本期"
        "提交的询盘中已成交的。投资回报率 =（成交金额 − 花费）÷ 花费。合计的花费类比率只计有花费"
        "记录的渠道。",
        "Spend counts on its day, an inquiry when submitted, a won order and its revenue when "
        "placed; won inquiries and conversion are of the inquiries submitted in the period. "
        "ROI = (won revenue − spend) ÷ spend. The total's spend ratios are over the channels "
        "with spend recorded.",
    ),
    "lost_reasons": ("丢单原因", "Lost reasons"),
    "lost_inquiries": ("丢单询盘", "Lost inquiries"),
    "lost_share": ("占丢单比例", "Share of lost"),
    "lost_rate": ("占询盘比例", "Share of inquiries"),
    "quoted_lost": ("报过价的丢单", "Lost after a quote"),
    "median_gap": ("报价高于目标价（中位数/件）", "Quote above target (median, per unit)"),
    "median_gap_rate": ("报价高于目标价（中位数 %）", "Quote above target (median %)"),
    "median_note": (
        "中位数不能相加：小计与合计不显示中位数。询盘按提交日期计入周期。",
        "A median does not add up: subtotals and totals show none. An inquiry counts in the "
        "period it was submitted.",
    ),
    "sales_performance": ("销售与经销商业绩", "Sales and distributors"),
    "handler_type": ("类型", "Kind"),
    "handler": ("销售/经销商", "Rep or distributor"),
    "handled_inquiries": ("分配询盘", "Inquiries handed"),
    "lost_to_competitor": ("输给竞争对手", "Lost to a competitor"),
    "lost_to_distributor": ("经销商冲突", "Distributor conflict"),
    "leakage_rate": ("流失率", "Leakage"),
    "credited_orders": ("计入的订单", "Orders credited"),
    "credited_revenue": ("计入的金额", "Revenue credited"),
    "logistics": ("物流", "Logistics"),
    "carrier": ("承运商", "Carrier"),
    "warehouse": ("仓库", "Warehouse"),
    "shipments": ("发货单", "Shipments"),
    "delivered": ("已签收", "Delivered"),
    "on_time": ("准时", "On time"),
    "on_time_rate": ("准时率", "On-time rate"),
    "exceptions": ("异常", "Exceptions"),
    "exception_rate": ("异常率", "Exception rate"),
    "returned": ("退货", "Returned"),
    "return_rate": ("退货率", "Return rate"),
    "median_dispatch": ("下单到发货（中位数）", "Order to dispatch (median)"),
    "logistics_note": (
        "发货单按创建日期计入周期；准时率只计结果已知（已签收或丢失）的发货单，合计的准时率即关键"
        "指标看板的物流准时率；中位数不能相加，合计不显示。",
        "A shipment counts in the period it was created; the on-time rate is over shipments "
        "whose outcome is known (delivered or lost), and the total's is the KPI board's; a "
        "median does not add up, so the total shows none.",
    ),
    "funnel": ("询盘漏斗", "Funnel"),
    "no_such_period": ("没有该周期的数据：{error}", "No data for that period: {error}"),
}

SQL_REFUSALS_ZH: dict[str, str] = {
    "empty": "没有可运行的语句",
    "too_long": "查询长度为 {length:,} 个字符，上限为 {limit:,}",
    "not_sql": "无法识别为 SQL：{problem}",
    "too_deep": "查询嵌套过深，无法检查",
    "statements": "一次只能运行一条语句：这段文本包含 {count} 条",
    "not_select": "这里只能运行 SELECT（可含 WITH、UNION 等），不能运行 {kind}",
    "statement_inside": "查询中不允许出现 {kind}：这里只读取数据",
    "parameter": "不支持参数（{name}）：请直接在查询中写出值",
    "qualified_table": "表名前不要加数据库或模式（{name}）："
    "这里只读取已发布的数据集市，请直接写表名",
    "file": "不允许读取文件（{name}）",
    "unknown_table": "{name} 不是已发布的数据集市表"
    "（可查询的是表列表中以 fct_、dim_、rpt_ 开头的表）",
    "table_function": "不允许使用表函数 {name}()；只允许 range、generate_series、unnest、json_each "
    "和 json_tree",
    "function": "函数 {name}() 会访问数据集市以外的内容"
    "（文件、设置、环境或字符串中的 SQL），不允许使用",
    "unchecked": "查询使用了无法检查的语法：{problem}",
    "time_limit": "已在 {seconds:g} 秒的时间上限处停止",
    "memory_limit": "已停止：查询所需内存超过上限 {limit}",
    "failed": "查询出错：{problem}",
}
"""Each refusal of scoring_api/sql_check.py (MESSAGES, the English) in Chinese, with the
same placeholders; DuckDB's own words in `problem` stay as DuckDB says them."""

SQL_UNAVAILABLE_ZH: dict[str, str] = {
    "not_published": "尚未发布数据集市：`leadflow run` 首次构建后"
    "（或在 `leadflow transform` 之后运行 `leadflow check`）即可查询",
    "unreadable": "暂时无法读取已发布的数据集市，请重试",
    "busy": "已有 {concurrency} 个查询在运行，请稍后重试",
}
"""Why the box cannot run a query now (scoring_api/sql_box.py UNAVAILABLE) in Chinese."""

LOST_REASONS: dict[str, tuple[str, str]] = {
    "price": ("价格", "price"),
    "product_unavailable": ("无货", "product unavailable"),
    "customization_infeasible": ("无法定制", "customisation infeasible"),
    "slow_response": ("响应慢", "slow response"),
    "competitor": ("竞争对手", "competitor"),
    "distributor_conflict": ("经销商冲突", "distributor conflict"),
    "no_budget": ("无预算", "no budget"),
    "unresponsive": ("客户无回应", "buyer unresponsive"),
    "other": ("其他", "other"),
}

CHANNELS: dict[str, tuple[str, str]] = {
    "own_site": ("官网", "own site"),
    "alibaba": ("阿里巴巴国际站", "Alibaba.com"),
    "made_in_china": ("中国制造网", "Made-in-China"),
    "1688": ("1688", "1688"),
    "wechat": ("微信", "WeChat"),
    "phone": ("电话", "phone"),
    "trade_show": ("展会", "trade show"),
}

PRODUCTS: dict[str, tuple[str, str]] = {
    "centrifugal_pumps": ("离心泵", "centrifugal pumps"),
    "submersible_pumps": ("潜水泵", "submersible pumps"),
    "metering_pumps": ("计量泵", "metering pumps"),
    "valves": ("阀门", "valves"),
    "electric_motors": ("电机", "electric motors"),
    "gear_reducers": ("减速机", "gear reducers"),
}


def translator(language: str):  # type: ignore[no-untyped-def]  # a Jinja global
    """`t(key, **values)` in `language`; an unknown key shows as itself."""
    index = 0 if language == "zh-CN" else 1

    def t(key: str, **values: object) -> str:
        words = MESSAGES.get(key)
        text = words[index] if words else key
        return text.format(**values) if values else text

    return t


def label(vocabulary: dict[str, tuple[str, str]], language: str, value: str | None) -> str:
    """A vocabulary value's label in `language`; an unconfigured value as it is."""
    if value is None:
        return "—"
    words = vocabulary.get(value)
    return words[0 if language == "zh-CN" else 1] if words else value


# --- a score's reasons -------------------------------------------------------------------
# models/reasons.py phrases each reason in English (the API's and the batch's text); a page
# in Chinese says the same in Chinese. Each pattern matches one of its sentences whole; a
# sentence none matches (a phrase added there and not here) is shown as it is.

_DETAIL = {
    "no message": "无留言",
    "one-line message": "一句话留言",
    "specific request (quantity, delivery)": "具体需求（数量、交期）",
    "describes a project or timeline": "描述了项目或时间",
}


def _product(words: str) -> str:
    return label(PRODUCTS, "zh-CN", words.replace(" ", "_"))


def _source(channel: str, country: str, campaign: str | None) -> str:
    text = f"来自 {country} 的{label(CHANNELS, 'zh-CN', channel)}询盘"
    return text + (f"（活动 {campaign}）" if campaign else "")


_REASONS_ZH: tuple[tuple[re.Pattern[str], Callable[..., str]], ...] = tuple(
    (re.compile(f"^{pattern}$"), phrase)
    for pattern, phrase in (
        (r"no target price given", lambda: "客户未给目标价"),
        (r"target price at or above our list price", lambda: "目标价不低于我方标价"),
        (r"target price (-?\d+) % below our list price", lambda n: f"目标价比我方标价低 {n}%"),
        (r"not quoted yet", lambda: "尚未报价"),
        (r"quoted at (-?\d+) % of list price", lambda n: f"报价为标价的 {n}%"),
        (
            r"latest quote ([+-]\d+) % vs the buyer's target price",
            lambda n: f"最新报价比客户目标价 {n}%",
        ),
        (r"the factory answered the customisation is not feasible", lambda: "工厂答复无法定制"),
        (r"the factory confirmed the customisation", lambda: "工厂确认可以定制"),
        (
            r"needs customisation \((.+)\); the factory has not answered yet",
            lambda line: f"需要定制（{_product(line)}），工厂尚未答复",
        ),
        (r"standard product, no customisation", lambda: "标准产品，无需定制"),
        (r"no contact (\d+) h after submission", lambda h: f"提交 {h} 小时后仍未联系"),
        (r"no sales touch for (\d+) days", lambda d: f"已 {d} 天无销售跟进"),
        (r"first contact (\d+) h after submission", lambda h: f"提交 {h} 小时后首次联系"),
        (r"not assigned to a rep or distributor yet", lambda: "尚未分配给销售或经销商"),
        (r"handled by rep (.+)", lambda who: f"由销售 {who} 跟进"),
        (r"handled by distributor (.+)", lambda who: f"由经销商 {who} 跟进"),
        (
            r"(no message|one-line message|specific request \(quantity, delivery\)|"
            r"describes a project or timeline), (company named|no company named), "
            r"(free-mail address|no free-mail address)",
            lambda detail, company, mail: "，".join(
                (
                    _DETAIL[detail],
                    "留了公司名" if company == "company named" else "未留公司名",
                    "免费邮箱" if mail == "free-mail address" else "非免费邮箱",
                )
            ),
        ),
        (r"new buyer, no earlier orders", lambda: "新客户，无历史订单"),
        (
            r"repeat buyer: (\d+) earlier orders(?:, (\d+) shipment problems)?",
            lambda orders, problems: (
                f"老客户：历史订单 {orders} 笔" + (f"，物流问题 {problems} 次" if problems else "")
            ),
        ),
        (r"(\S+) inquiry from (\S+)(?: via (.+))?", _source),
        (
            r"submitted in (January|February|March|April|May|June|July|August|September|"
            r"October|November|December)",
            lambda month: f"{_MONTH_NUMBERS[month]} 月提交",
        ),
        (r"submission month unknown", lambda: "提交月份未知"),
        # the product factor last: "{sku} ({product line})" would match other sentences too
        (r"(\S+) \(([a-z ]+)\)", lambda sku, line: f"{sku}（{_product(line)}）"),
    )
)
_MONTH_NUMBERS = {
    month: number
    for number, month in enumerate(
        ("January", "February", "March", "April", "May", "June", "July", "August",
         "September", "October", "November", "December"),
        start=1,
    )
}  # fmt: skip


def reason_text(text: str, language: str) -> str:
    """A reason's sentence (models/reasons.py, in English) in `language`."""
    if language != "zh-CN":
        return text
    for pattern, phrase in _REASONS_ZH:
        found = pattern.match(text)
        if found:
            return phrase(*found.groups())
    return text


# --- the link audit ----------------------------------------------------------------------
# fct_identity_links states each link's rule in English for the data team
# (int_identity_links_unioned); a page says it from the link's structured columns instead.

IDENTIFIERS: dict[str, tuple[str, str]] = {
    "anonymous_id": ("访客标识", "visitor id"),
    "email": ("邮箱", "email"),
    "phone": ("电话", "phone"),
    "account_id": ("CRM 账户", "CRM account"),
    "inquiry_id": ("询盘", "inquiry"),
    "order_id": ("订单", "order"),
    "shipment_id": ("运单", "shipment"),
}

EVENT_TYPES: dict[str, tuple[str, str]] = {
    "page_viewed": ("浏览页面", "page view"),
    "product_viewed": ("浏览产品", "product view"),
    "search_performed": ("站内搜索", "search"),
    "inquiry_submitted": ("询盘", "inquiry"),
    "lead_assigned": ("分配", "assignment"),
    "order_placed": ("订单", "order"),
    "payment_received": ("收款", "payment"),
    "return_received": ("退货", "return"),
    "shipment": ("物流事件", "shipment event"),
}

_RECORD_OF_EVENT = {"inquiry_submitted": "inquiry_id", "order_placed": "order_id"}
"""Events that are their record: the identifier a link from them starts at is their own."""

_EVIDENCE: dict[str, tuple[str, str]] = {
    "company": ("公司名", "company"),
    "contact_name": ("联系人姓名", "contact name"),
    "location": ("地区", "location"),
    "email": ("邮箱", "email"),
    "email_domain": ("邮箱域名", "email domain"),
    "phone": ("电话", "phone"),
}


def event_type_label(value: str, language: str) -> str:
    """An event type's name in `language`."""
    # a shipment event is typed by what happened to it ('shipment_delivered', …)
    return label(EVENT_TYPES, language, "shipment" if value.startswith("shipment_") else value)


def link_reason(link: dict[str, object], language: str) -> str:
    """Why the identity graph joined two records, from a fct_identity_links row: two keys on
    one event, a company name only one CRM account has, or a probable match with the share
    of its weight each compared field gave (Splink's evidence)."""
    index = 0 if language == "zh-CN" else 1
    rule = str(link.get("link_rule") or "")
    from_type = label(IDENTIFIERS, language, str(link.get("from_identifier_type")))
    to_type = label(IDENTIFIERS, language, str(link.get("to_identifier_type")))
    if link.get("link_kind") == "probabilistic":
        evidence = rule.partition(": ")[2]
        fields = [
            re.sub(r"^(\w+)", lambda name: _EVIDENCE.get(name[1], (name[1],) * 2)[index], part)
            for part in evidence.split(", ")
            if part
        ]
        said = ("，" if index == 0 else ", ").join(fields)
        return f"很可能是同一买家（{said}）" if index == 0 else f"probably one buyer ({said})"
    if rule.startswith("company name of one CRM account"):
        return (
            f"{from_type}的公司名只对应一个 CRM 账户"
            if index == 0
            else f"the {from_type}'s company name belongs to one CRM account only"
        )
    event = event_type_label(str(link.get("first_event_type") or ""), language)
    if _RECORD_OF_EVENT.get(str(link.get("first_event_type"))) == link.get("from_identifier_type"):
        # the event is the record itself: an inquiry giving an email
        return f"该{event}留有此{to_type}" if index == 0 else f"the {event} gives this {to_type}"
    return (
        f"同一{event}中出现{from_type}与{to_type}"
        if index == 0
        else f"{from_type} and {to_type} on one {event}"
    )


def sql_refusal(reason: str, values: dict[str, object], language: str) -> str:
    """Why the SQL box refused or stopped a query, in `language`."""
    from scoring_api.sql_check import MESSAGES

    template = SQL_REFUSALS_ZH[reason] if language == "zh-CN" else MESSAGES[reason]
    return template.format(**values)


def sql_unavailable(reason: str, values: dict[str, object], language: str) -> str:
    """Why the SQL box cannot run a query now, in `language`."""
    from scoring_api.sql_box import UNAVAILABLE

    template = SQL_UNAVAILABLE_ZH[reason] if language == "zh-CN" else UNAVAILABLE[reason]
    return template.format(**values)
