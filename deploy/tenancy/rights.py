"""Who may do what: the one table of rights (role × tenant kind × resource × action), as data.

Both APIs ask this table and nothing else: the capability centre through `Principal.may` /
`Principal.require`, the scheduler through the `Caller` that `scheduler_auth` builds from it. The
table is rendered into docs/security.md by `render_markdown` (a test keeps the two equal).

A right reaches either the caller's own tenant or every tenant. Rights that reach every tenant
(pools, the topology, other tenants' jobs and usage, registry moderation, running one's own code on
the platform's clusters) belong to platform-operator tenants only: the ``platform`` tenant that
`brain up` creates and any tenant of kind ``operator``. An enterprise's or a government office's own
admin manages its own tenant and nothing beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from deploy.tenancy.model import Role, TenantKind


class Reach(StrEnum):
    own = "own tenant"
    every = "every tenant"


@dataclass(frozen=True)
class Right:
    """One action on one resource, and who holds it."""

    resource: str
    action: str
    reach: Reach
    roles: frozenset[Role]
    kinds: frozenset[TenantKind]
    """Tenant kinds whose keys (of `roles`) hold the right."""
    zh: str
    """The action in Chinese, for docs/security.md."""


EVERY_ROLE = frozenset(Role)
MANAGERS = frozenset({Role.admin, Role.ops})
EVERY_KIND = frozenset(TenantKind)
OPERATOR_KINDS = frozenset({TenantKind.operator})
"""Tenant kinds that run the platform: their admin and ops keys hold the rights over every tenant."""


def _own(resource: str, action: str, roles: frozenset[Role], zh: str) -> Right:
    return Right(resource, action, Reach.own, roles, EVERY_KIND, zh)


def _platform(resource: str, action: str, zh: str, roles: frozenset[Role] = MANAGERS) -> Right:
    return Right(resource, action, Reach.every, roles, OPERATOR_KINDS, zh)


#: Every right, by the name code asks for (`Principal.may("…")`).
RIGHTS: dict[str, Right] = {
    "infer": _own(
        "components",
        "call visible components",
        frozenset({Role.admin, Role.ops, Role.developer, Role.consumer}),
        "调用可见组件",
    ),
    "read own key": _own(
        "keys", "see its own key's tenant, role and rights", EVERY_ROLE, "查看本密钥的租户、角色与权限"
    ),
    "read catalogue": _own("catalogue", "search visible components", EVERY_ROLE, "检索可见组件目录"),
    "read usage": _own("usage", "read its own tenant's usage", EVERY_ROLE, "查看本租户用量"),
    "register components": _own(
        "components",
        "register and version its tenant's components",
        frozenset({Role.admin, Role.developer}),
        "注册、发布本租户组件版本",
    ),
    "read drift": _own(
        "drift",
        "read the drift scores of its tenant's components",
        frozenset({Role.admin, Role.ops, Role.developer}),
        "查看本租户组件的漂移评分",
    ),
    "release components": _own(
        "components",
        "promote, roll back, deprecate and canary its tenant's components",
        frozenset({Role.admin, Role.developer}),
        "发布、回滚、弃用、灰度本租户组件",
    ),
    "export components": _own(
        "components",
        "export the artifacts of its tenant's components",
        frozenset({Role.admin, Role.developer}),
        "导出本租户组件制品",
    ),
    "read payload samples": _own(
        "payload samples",
        "read and purge the sampled calls of its tenant's private components (never another tenant's)",
        frozenset({Role.admin, Role.developer}),
        "查看、清除本租户私有组件的采样请求",
    ),
    "manage deployments": _own(
        "deployments",
        "manage its tenant's deployments and components' serving policies",
        MANAGERS,
        "管理本租户部署与组件服务策略",
    ),
    "manage keys": _own(
        "keys", "issue and revoke its tenant's keys", frozenset({Role.admin}), "签发、吊销本租户密钥"
    ),
    "submit jobs": _own(
        "jobs",
        "submit, watch and cancel its tenant's jobs (built-in kinds)",
        EVERY_ROLE,
        "提交、查看、取消本租户作业（内置类型）",
    ),
    "submit high-priority jobs": _own(
        "jobs",
        "submit jobs of priority class high",
        frozenset({Role.admin, Role.ops, Role.developer}),
        "提交 high 优先级作业",
    ),
    "read queues": _own(
        "queues", "read its queue and those above it, with quotas", EVERY_ROLE, "查看本租户队列及上级配额"
    ),
    "read usage of other tenants": _platform("usage", "read every tenant's usage", "查看所有租户用量"),
    # The provincial office assesses each industry brain (考核评估) from sums per industry chain and city;
    # it reads no enterprise's own lines (that is "read usage of other tenants", operators only).
    "read assessment": Right(
        "usage",
        "read calls and errors summed per industry brain and city (no tenant named)",
        Reach.every,
        EVERY_ROLE,
        frozenset({TenantKind.operator, TenantKind.government}),
        "查看按产业大脑与城市汇总的调用量（不含租户明细）",
    ),
    "read drift of other tenants": _platform(
        "drift", "read the drift scores of every tenant's components", "查看所有租户组件的漂移评分"
    ),
    "manage pools": _platform(
        "pools, topology, queues",
        "list, register, cordon, drain pools; apply the topology",
        "管理资源池、拓扑与队列",
    ),
    "manage jobs of other tenants": _platform(
        "jobs", "see, cancel and submit every tenant's jobs", "查看、取消、代提交所有租户作业"
    ),
    "run own code": _platform(
        "jobs",
        "submit kind entrypoint or a runtime_env beyond the allow-list",
        "提交自定义命令或运行环境",
    ),
    "submit critical jobs": _platform(
        "jobs", "submit jobs of priority class critical", "提交 critical 优先级作业"
    ),
    "moderate registry": _platform(
        "components",
        "change, deprecate or export any tenant's component (registry moderation)",
        "审核、下架、导出任意租户组件",
    ),
    "read audit log": _platform(
        "audit log",
        "read who changed tenants, keys and the registry, and when",
        "查看租户、密钥与组件注册变更的审计日志",
    ),
    "manage tenants": _platform(
        "tenants",
        "create tenants and change their limits and queue quotas",
        "创建租户、调整限额与队列配额",
        roles=frozenset({Role.admin}),
    ),
}


def holds(role: Role, kind: TenantKind, action: str) -> bool:
    """Whether a key of `role` in a tenant of `kind` holds the right named `action`."""
    right = RIGHTS[action]  # an unknown name is a bug in the caller: KeyError
    return role in right.roles and kind in right.kinds


def who_holds(action: str) -> str:
    """The holders of a right in words, for a refusal's message."""
    right = RIGHTS[action]
    roles = " or ".join(sorted(r.value for r in right.roles))
    if right.kinds == EVERY_KIND:
        return f"a key of role {roles}"
    kinds = " or ".join(sorted(k.value for k in right.kinds))
    return f"a key of role {roles} of a platform-operator tenant (kind {kinds}, e.g. `platform`)"


def render_markdown() -> str:
    """The table of rights for docs/security.md: one row per right, one column per tenant kind."""
    kinds = list(TenantKind)
    head = ["right", "resource", "action", "reach", *(f"{k.value}" for k in kinds)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, right in RIGHTS.items():
        cells = [
            f"`{name}`",
            right.resource,
            f"{right.action} · {right.zh}",
            right.reach.value,
            *(
                ", ".join(r.value for r in Role if r in right.roles) if k in right.kinds else "—"
                for k in kinds
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
