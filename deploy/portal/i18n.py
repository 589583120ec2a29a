"""The portal's words in Chinese (the default) and English; templates ask `t("key")`."""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT = "zh"

#: key → (Chinese, English)
WORDS: dict[str, tuple[str, str]] = {
    "brand": ("产业大脑 · 能力中心门户", "Industry Brain portal"),
    "catalogue": ("能力目录", "Catalogue"),
    "compute": ("算力", "Compute"),
    "pools": ("资源池", "Pools"),
    "jobs": ("作业", "Jobs"),
    "usage": ("用量", "Usage"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "api_key": ("API 密钥", "API key"),
    "login_hint": (
        "用 `brain keys issue` 签发的密钥登录；密钥只保存在服务器端会话中。",
        "Log in with a key from `brain keys issue`; it stays in a server-side session.",
    ),
    "kind": ("类型", "Kind"),
    "industry": ("产业链", "Industry chain"),
    "owner": ("所有者", "Owner"),
    "text": ("关键词", "Text"),
    "filter": ("筛选", "Filter"),
    "any": ("全部", "any"),
    "knowledge": ("知识", "knowledge"),
    "process": ("工艺", "process"),
    "mechanism": ("机理", "mechanism"),
    "components_found": ("个组件", "components"),
    "visibility": ("可见范围", "Visibility"),
    "version": ("版本", "Version"),
    "versions": ("版本", "Versions"),
    "production": ("生产版本", "Production"),
    "task": ("任务", "Task"),
    "inputs": ("输入", "Inputs"),
    "outputs": ("输出", "Outputs"),
    "name": ("名称", "Name"),
    "datatype": ("数据类型", "Datatype"),
    "shape": ("形状", "Shape"),
    "try_it": ("在线试用", "Try it"),
    "send": ("发送", "Send"),
    "answer": ("返回结果", "Answer"),
    "examples": ("调用示例", "Example requests"),
    "your_usage": ("本月用量", "Usage this month"),
    "calls": ("调用次数", "Calls"),
    "errors": ("错误", "Errors"),
    "rows": ("行数", "Rows"),
    "latency_mean": ("平均时延 ms", "Mean latency ms"),
    "latency_max": ("最大时延 ms", "Max latency ms"),
    "tenant": ("租户", "Tenant"),
    "component": ("组件", "Component"),
    "month": ("月份", "Month"),
    "show": ("查看", "Show"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "quota": ("月度配额", "Monthly quota"),
    "unlimited": ("不限", "unlimited"),
    "total": ("合计", "Total"),
    "queues": ("队列", "Queues"),
    "queue": ("队列", "Queue"),
    "parent": ("上级", "Parent"),
    "guaranteed": ("保障配额", "Guaranteed"),
    "borrowing": ("可借入", "Borrowing limit"),
    "lending": ("可借出", "Lending limit"),
    "waiting": ("排队", "Waiting"),
    "running": ("运行中", "Running"),
    "state": ("状态", "State"),
    "pool": ("资源池", "Pool"),
    "city": ("城市", "City"),
    "health": ("健康", "Health"),
    "capacity": ("容量", "Capacity"),
    "in_use": ("已用", "In use"),
    "in_flight": ("在途作业", "Jobs in flight"),
    "cordon": ("停止调度", "Cordon"),
    "uncordon": ("恢复调度", "Uncordon"),
    "drain": ("排空", "Drain"),
    "cordoned": ("已停止调度", "cordoned"),
    "cities_chart": ("山东 16 地市算力容量（CPU）", "CPU capacity in Shandong's 16 cities"),
    "submit_job": ("提交作业", "Submit a job"),
    "params": ("参数 (JSON)", "Parameters (JSON)"),
    "entrypoint": ("命令", "Command"),
    "cpus": ("CPU 数", "CPUs"),
    "submit": ("提交", "Submit"),
    "job": ("作业", "Job"),
    "events": ("事件", "Events"),
    "log_tail": ("日志末尾", "Log tail"),
    "cancel": ("取消", "Cancel"),
    "time": ("时间", "Time"),
    "message": ("说明", "Message"),
    "refused": ("请求被拒绝", "Refused"),
    "back": ("返回", "Back"),
    "role": ("角色", "Role"),
    "lang_other": ("English", "中文"),
    "none": ("暂无", "none"),
    "by_component": ("按组件", "By component"),
    "by_tenant": ("按租户", "By tenant"),
    "all_tenants": ("所有租户", "All tenants"),
    "pager_prev": ("上一页", "Previous"),
    "pager_next": ("下一页", "Next"),
}


def word(key: str, lang: str) -> str:
    """The word for `key` in `lang`; an unknown key shows itself (a missing word is visible, not fatal)."""
    pair = WORDS.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def pick_lang(value: str | None) -> str:
    return value if value in LANGS else DEFAULT
