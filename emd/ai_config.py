"""Config `ai:` -- how AI-assisted pull requests are recognised (docs/metrics.md, "AI-assisted work").

```yaml
ai:
  copilot: true            # read GitHub Copilot's usage-metrics reports; the author's activity is a rule
  labels: [ai-assisted]    # PR labels that mark a PR as AI-assisted (default: ai-assisted)
  agents:                  # added to (or, by the same key, replacing) the built-in coding agents
    my-agent: {names: ["Robo Coder"], emails: ["robo@example.com"], accounts: ["robo-coder"]}
```

An agent is recognised by a commit's `Co-authored-by:` trailer naming one of its `names` (case-insensitive)
or an e-mail matching one of its `emails` globs (`*` any text), and by a PR whose author is one of its
`accounts` (GitHub logins, with or without the `[bot]` suffix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AiAgent:
    key: str
    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()  # globs, lower case
    accounts: tuple[str, ...] = ()  # GitHub logins, lower case, without [bot]


DEFAULT_AGENTS: tuple[AiAgent, ...] = (
    AiAgent("copilot", ("Copilot", "GitHub Copilot"), ("*+copilot@users.noreply.github.com",),
            ("copilot-swe-agent", "copilot")),
    AiAgent("claude", ("Claude", "Claude Code"), ("noreply@anthropic.com",), ("claude",)),
    AiAgent("cursor", ("Cursor Agent", "Cursor"), ("cursoragent@cursor.com",), ("cursor",)),
    AiAgent("codex", ("Codex", "OpenAI Codex"), ("*codex*@openai.com",), ("chatgpt-codex-connector",)),
    AiAgent("devin", ("Devin", "Devin AI"), ("*devin-ai-integration*@users.noreply.github.com",),
            ("devin-ai-integration",)),
    AiAgent("gemini", ("Gemini", "Gemini Code Assist"), ("*gemini*@google.com",), ("gemini-code-assist",)),
)

_AGENT_KEYS = {"names", "emails", "accounts"}
AI_KEYS = {"copilot", "agents", "labels"}
_META = set(".^$*+?()[]{}|\\")


@dataclass(frozen=True)
class AiConfig:
    copilot: bool = False
    labels: tuple[str, ...] = ("ai-assisted",)
    agents: tuple[AiAgent, ...] = field(default=DEFAULT_AGENTS)

    @property
    def accounts(self) -> list[str]:
        return sorted({a for agent in self.agents for a in agent.accounts})

    def trailer_regex(self) -> str:
        """One regex over a lower-cased commit message: a `Co-authored-by:` line naming a known agent by name
        or by e-mail. RE2 (DuckDB) and Postgres ARE read it alike."""
        names = sorted({_escape(n.lower()) for agent in self.agents for n in agent.names})
        emails = sorted({_glob_regex(e) for agent in self.agents for e in agent.emails})
        parts = []
        if names:
            parts.append(r"co-authored-by:[ \t]*(" + "|".join(names) + r")[ \t]*<")
        if emails:
            parts.append(r"co-authored-by:[^\n<]*<(" + "|".join(emails) + r")>")
        return r"(^|\n)(" + "|".join(parts) + ")" if parts else r"$^"


def _escape(text: str) -> str:
    """Regex metacharacters escaped the way both RE2 and Postgres AREs read them (a space or a hyphen is left as it is)."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def _glob_regex(glob: str) -> str:
    return "".join(r"[^>\n]*" if ch == "*" else _escape(ch) for ch in glob.lower())


def parse_ai_config(reader: Any, raw: Any) -> AiConfig:
    """`reader` is emd.config's _Reader (it names the file and key in every error)."""
    top = reader.mapping(raw, "ai", AI_KEYS)
    if not top:
        return AiConfig()
    agents = {agent.key: agent for agent in DEFAULT_AGENTS}
    agents_raw = top.get("agents") or {}
    if not isinstance(agents_raw, dict):
        raise reader.fail("ai.agents", "must be a mapping of agent name to {names, emails, accounts}")
    for key, spec in agents_raw.items():
        where = f"ai.agents.{key}"
        if spec is None:  # `claude: null` switches a built-in agent off
            agents.pop(str(key), None)
            continue
        spec = reader.mapping(spec, where, _AGENT_KEYS)
        agent = AiAgent(str(key), reader.str_list(spec.get("names"), f"{where}.names"),
                        tuple(e.lower() for e in reader.str_list(spec.get("emails"), f"{where}.emails")),
                        tuple(_account(a) for a in reader.str_list(spec.get("accounts"), f"{where}.accounts")))
        if not (agent.names or agent.emails or agent.accounts):
            raise reader.fail(where, "needs at least one of names, emails or accounts")
        agents[agent.key] = agent
    labels = reader.str_list(top.get("labels"), "ai.labels") if "labels" in top else ("ai-assisted",)
    return AiConfig(copilot=reader.boolean(top.get("copilot"), "ai.copilot", False),
                    labels=tuple(label.lower() for label in labels), agents=tuple(agents.values()))


def _account(login: str) -> str:
    login = login.lower()
    return login[: -len("[bot]")] if login.endswith("[bot]") else login
