"""The policies a home has had in force, and the verdict of an edited call under them.

Processes sharing a home may run under different policies, and a policy file may
change between a call's request and its decision. So the policy in force is recorded
when an engine opens, and an edit is judged by it and by the one the call was
requested under, rebuilt from its record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import HitlError
from engine.gate import call_digest
from engine.judge import edit_verdict
from engine.policy import Policy, Tier, TierSettings, Verdict
from engine.runner import error_line
from engine.storage.audit import AuditLog, AuditNote
from engine.storage.policies import Policies
from engine.storage.store import Store
from engine.storage.verdicts import FixedVerdict
from engine.views import ApprovalView


class PolicyHistory:
    """The policy in force here, and every one recorded before it (by digest)."""

    def __init__(self, store: Store, audit: AuditLog, in_force: Policy) -> None:
        self._store = store
        self._audit = audit
        self.in_force = in_force
        self.digest = in_force.digest
        self._known: dict[str, Policy] = {self.digest: in_force}

    async def record(self, operator: str) -> None:
        """Keeps the policy in force (to judge later edits of the calls it judged) and
        audits it whenever it differs from the last one recorded."""
        policy = self.in_force
        keep = Policies.insert_statement(
            self.digest, policy.source, policy.canonical(), policy.text
        )
        last = await self._audit.last("policy_in_force")
        if last is not None and last.body.get("digest") == self.digest:
            await self._store.commit([keep])
            return
        body = {"source": policy.source, "digest": self.digest, "text": policy.text}
        await self._audit.append(AuditNote("policy_in_force", body, operator=operator), keep)

    async def edit_verdict(self, approval: ApprovalView, args: Mapping[str, Any]) -> Verdict:
        """The edited call's verdict (:func:`engine.judge.edit_verdict`), under the
        policy in force, the one the call was requested under and its first verdict."""
        then = await self._policy_of(approval.policy_digest)
        original = await self._store.verdicts.get(
            approval.thread_id,
            approval.tool_call_id,
            call_digest(approval.tool, approval.original_args),
        )
        asked = (
            _as_verdict(original)
            if original is not None
            else Verdict(
                Tier(approval.tier),
                TierSettings(approval.required, approval.distinct_operators),
                approval.reason,
                approval.rules,
            )
        )
        return edit_verdict(
            self.in_force.verdict(approval.tool, args),
            then.verdict(approval.tool, args) if then is not None else None,
            asked,
        )

    async def _policy_of(self, digest: str) -> Policy | None:
        """A policy once in force in this home, rebuilt from its record (cached)."""
        if not digest:
            return None
        if digest not in self._known:
            found = await self._store.policies.get(digest)
            if found is None:
                return None
            source, body = found
            try:
                self._known[digest] = Policy.from_canonical(body, source)
            except Exception as error:  # fail closed: no edit without its judge
                raise HitlError(
                    f"cannot rebuild the policy {digest[:12]} this call was requested under "
                    f"({error_line(error)}); nothing changed"
                ) from None
        return self._known[digest]


def _as_verdict(fixed: FixedVerdict) -> Verdict:
    settings = TierSettings(fixed.required, fixed.distinct_operators, fixed.expires_after)
    return Verdict(Tier(fixed.tier), settings, fixed.reason, fixed.rules)
