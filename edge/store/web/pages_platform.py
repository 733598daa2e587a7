"""Platform integration on the reviewer page: GA/T 1400 pushes and automatic dispatch.

* Event page (reviewers): "dispatched automatically by rule R", the event's GA/T 1400
  pushes, and the one-click transfer (一键流转) that pushes a confirmed event now (or
  again, after a refusal).
* ``/platform`` (admins): each outside link's state, and the dispatch rules: store.yaml
  rules read-only, page rules added, changed (as YAML, the store.yaml schema) and
  deleted; every change audited by the service.

Kept in one module, with its own texts, so it moves with the page stack as a unit.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from edge.api.types import PlatformLink
from edge.config import format_validation_error
from edge.errors import StoreError
from edge.store.dispatch_auto import StoredRule
from edge.store.dispatch_rules import DispatchRule
from edge.store.repository import StoredEvent
from edge.store.web.app import Params, Route, RouteSpec, bind
from edge.store.web.html import Html, el
from edge.store.web.http import Response, field_value, html_response, redirect
from edge.store.web.layout import Ctx, badge, page, post_form, table
from edge.store.web.services import Deps

T: dict[str, tuple[str, str]] = {
    "title": ("平台对接", "Platform integration"),
    "links": ("对接链路", "Links"),
    "link.none": ("未配置对外链路（store.yaml 的 viid: 与 web.dispatch）。",
                  "No outside link is configured (viid: and web.dispatch in store.yaml)."),
    "col.link": ("链路", "Link"), "col.target": ("地址", "Target"),
    "col.state": ("状态", "State"), "col.since": ("自", "Since"),
    "col.last_ok": ("最近应答", "Last answer"), "col.pending": ("待发", "Pending"),
    "col.delivered": ("已送达", "Delivered"), "col.refused": ("被拒", "Refused"),
    "col.error": ("最近错误", "Last error"),
    "rules": ("自动派遣规则", "Automatic dispatch rules"),
    "rules.none": ("尚无规则。", "No rules yet."),
    "col.rule": ("规则", "Rule"), "col.source": ("来源", "Source"),
    "col.actions": ("动作", "Actions"), "col.enabled": ("启用", "Enabled"),
    "source.config": ("store.yaml（只读）", "store.yaml (read-only)"),
    "source.page": ("页面", "page"),
    "rule.edit": ("新增或修改规则（YAML，与 store.yaml 相同）",
                  "Add or change a rule (YAML, as in store.yaml)"),
    "rule.save": ("保存规则", "Save rule"), "rule.delete": ("删除", "Delete"),
    "rule.load": ("编辑", "Edit"),
    "event.title": ("平台流转", "Platform transfer"),
    "event.rule": ("由规则「{name}」自动派遣（{actions}）",
                   "dispatched automatically by rule “{name}” ({actions})"),
    "event.pushes": ("GA/T 1400 推送", "GA/T 1400 pushes"),
    "event.nopush": ("尚未推送到视图库平台。", "Not pushed to the GA/T 1400 platform yet."),
    "event.transfer": ("一键流转", "Transfer now"),
    "event.transfer.help": ("推送到视图库平台（仅限已确认比中）。",
                            "Push to the GA/T 1400 platform (confirmed matches only)."),
    "col.kind": ("对象", "Object"), "col.attempts": ("尝试", "Attempts"),
    "col.status": ("最近结果", "Last result"), "col.reason": ("原因", "Why"),
    "state.registered": ("已注册", "registered"), "state.failing": ("不可达", "unreachable"),
    "state.unregistered": ("未注册", "not registered"), "state.starting": ("启动中", "starting"),
    "state.stopped": ("已停止", "stopped"), "state.active": ("运行中", "active"),
    "state.pending": ("待发", "pending"), "state.delivered": ("已送达", "delivered"),
    "state.refused": ("被拒", "refused"), "state.cancelled": ("已取消", "cancelled"),
}  # fmt: skip
TEMPLATE = """id: vendors-market
name: 市场周边流动摊贩
labels: ["流动摊贩*"]
locations: []
cameras: []
hours: [{from: "07:00", to: "21:00"}]
min_similarity: 0.55
actions: [viid]
"""


def t(ctx: Ctx, key: str, **values: object) -> str:
    zh, en = T[key]
    text = en if ctx.lang == "en" else zh
    return text.format(**values) if values else text


def _state(ctx: Ctx, state: str) -> Html:
    good = state in ("registered", "active", "delivered")
    label = t(ctx, f"state.{state}") if f"state.{state}" in T else state
    return badge(label, "ok" if good else "bad" if state in ("failing", "refused") else state)


# --- event page -----------------------------------------------------------------------


def platform_section(ctx: Ctx, d: Deps, s: StoredEvent) -> Html | None:
    """Rule hits, pushes and the transfer button of one event (None when not set up)."""
    platform = d.services.platform
    if platform is None or not ctx.can("dispatch"):
        return None
    event_id = s.event.event_id
    hits = [
        el("p", {"class": "rule-hit"},
           t(ctx, "event.rule", name=h.rule_name, actions=", ".join(h.actions)))
        for h in platform.auto.hits_for(event_id)
    ]  # fmt: skip
    parts: list[Any] = [el("h2", {"id": "platform-h"}, t(ctx, "event.title")), *hits]
    if platform.viid is not None:
        rows = [
            [r.kind, _state(ctx, r.state), r.attempts, r.last_status or "—", r.reason]
            for r in platform.viid.for_event(event_id)
        ]
        keys = ("col.kind", "col.state", "col.attempts", "col.status", "col.reason")
        parts.append(
            table([t(ctx, k) for k in keys], rows, t(ctx, "event.pushes"))
            if rows
            else el("p", {}, t(ctx, "event.nopush"))
        )
        if s.verdict == "confirmed":
            parts.append(
                post_form(
                    ctx,
                    f"/events/{event_id}/transfer",
                    el(
                        "button",
                        {"type": "submit", "class": "primary", "id": "transfer-btn"},
                        t(ctx, "event.transfer"),
                    ),
                    el("small", {}, t(ctx, "event.transfer.help")),
                )
            )
    if len(parts) == 1:
        return None
    return el("section", {"class": "card", "id": "platform", "aria-labelledby": "platform-h"},
              *parts)  # fmt: skip


def _transfer(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    platform = d.services.platform
    if platform is None or platform.viid is None:
        raise StoreError("no GA/T 1400 platform is configured (viid: in store.yaml)")
    platform.viid.transfer(ctx.principal, m["id"])  # audited: viid.transfer
    return redirect(f"/events/{m['id']}#platform")


# --- admin page -----------------------------------------------------------------------


def _links(ctx: Ctx, links: tuple[PlatformLink, ...]) -> Html:
    if not links:
        return el("p", {}, t(ctx, "link.none"))
    keys = ("col.link", "col.target", "col.state", "col.since", "col.last_ok", "col.pending",
            "col.delivered", "col.refused", "col.error")  # fmt: skip
    rows = [
        [x.name, el("code", {}, x.target), _state(ctx, x.state),
         ctx.time(x.since_us) if x.since_us else "—",
         ctx.time(x.last_ok_us) if x.last_ok_us else "—",
         x.pending, x.delivered, x.refused, x.last_error or "—"]
        for x in links
    ]  # fmt: skip
    return table([t(ctx, k) for k in keys], rows, t(ctx, "links"))


def _rule_row(ctx: Ctx, s: StoredRule) -> list[Any]:
    r = s.rule
    tools: Any = "—"
    if s.source == "page":
        tools = el(
            "div", {"class": "actions"},
            el("a", {"href": f"/platform?edit={r.id}#rule-form"}, t(ctx, "rule.load")),
            post_form(ctx, f"/platform/rules/{r.id}/delete",
                      el("button", {"type": "submit"}, t(ctx, "rule.delete"))),
        )  # fmt: skip
    return [
        el("span", {}, el("strong", {}, r.name), " ", el("code", {}, r.id)),
        t(ctx, f"source.{s.source}"),
        ", ".join(r.actions),
        "✓" if r.enabled else "—",
        tools,
    ]


def _rule_yaml(rule: DispatchRule) -> str:
    data = rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data = {"id": rule.id, "name": rule.name, **data, "actions": list(rule.actions)}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _rules(ctx: Ctx, rules: list[StoredRule], text: str, error: str | None) -> Html:
    keys = ("col.rule", "col.source", "col.actions", "col.enabled", "col.actions")
    headers = [t(ctx, k) for k in keys[:4]] + [""]
    listing = (
        table(headers, [_rule_row(ctx, s) for s in rules], t(ctx, "rules"))
        if rules
        else el("p", {}, t(ctx, "rules.none"))
    )
    form = post_form(
        ctx, "/platform/rules",
        el("label", {"for": "rule-yaml"}, t(ctx, "rule.edit")),
        el("textarea", {"id": "rule-yaml", "name": "rule", "rows": "12", "spellcheck": "false"},
           text),
        el("p", {"class": "error", "role": "alert"}, error) if error else None,
        el("button", {"type": "submit", "class": "primary"}, t(ctx, "rule.save")),
        id="rule-form",
    )  # fmt: skip
    return el("section", {"class": "card"}, el("h2", {}, t(ctx, "rules")), listing, form)


def _render(d: Deps, ctx: Ctx, text: str, error: str | None, status: int = 200) -> Response:
    platform = d.services.platform
    links = platform.links() if platform is not None else ()
    rules = platform.auto.list_rules() if platform is not None else []
    body = [
        el("section", {"class": "card"}, el("h2", {}, t(ctx, "links")), _links(ctx, links)),
        _rules(ctx, rules, text, error),
    ]
    return html_response(page(ctx, t(ctx, "title"), body, "/platform"), status)


def _platform_page(d: Deps, ctx: Ctx, m: Params) -> Response:
    text = TEMPLATE
    wanted = ctx.req.arg("edit")
    if wanted and d.services.platform is not None:
        found = [s.rule for s in d.services.platform.auto.list_rules() if s.rule.id == wanted]
        text = _rule_yaml(found[0]) if found else TEMPLATE
    return _render(d, ctx, text, None)


def _put_rule(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    platform = d.services.platform
    if platform is None:
        raise StoreError("the platform integration is not running")
    text = field_value(ctx.req.form(), "rule")
    try:
        data = yaml.safe_load(text)
        rule = DispatchRule.model_validate(data)
        platform.auto.put_rule(ctx.principal, rule)  # audited: dispatch.rule_put
    except yaml.YAMLError as e:
        return _render(d, ctx, text, f"not valid YAML: {e}".replace("\n", " "), 400)
    except ValidationError as e:
        return _render(d, ctx, text, "; ".join(format_validation_error(e, "rule")), 400)
    except StoreError as e:
        return _render(d, ctx, text, str(e), 400)
    return redirect("/platform")


def _delete_rule(d: Deps, ctx: Ctx, m: Params) -> Response:
    assert ctx.principal is not None
    if d.services.platform is None:
        raise StoreError("the platform integration is not running")
    d.services.platform.auto.delete_rule(ctx.principal, m["id"])  # audited
    return redirect("/platform")


ROUTES = (
    RouteSpec("POST", "/events/{id}/transfer", _transfer, "dispatch"),
    RouteSpec("GET", "/platform", _platform_page, "gateways"),
    RouteSpec("POST", "/platform/rules", _put_rule, "gateways"),
    RouteSpec("POST", "/platform/rules/{id}/delete", _delete_rule, "gateways"),
)


def routes(d: Deps) -> list[Route]:
    return bind(d, ROUTES)
