"""Mock GitHub: the GraphQL API (`/graphql`, and `/api/graphql` as GitHub Enterprise Server serves it).

Every query is parsed and validated against GitHub's public schema (mock_apis/specs/github-schema.graphql, a copy of ../shared/specs/)
and executed by graphql-core over that schema, so a query the real API would reject is rejected here too.
On top of schema validation it enforces what GitHub enforces:

- every connection whose `nodes`/`edges` are selected needs `first` or `last` between 1 and 100;
- at most 500,000 nodes per query, counted as GitHub does (the product of `first`/`last` down each path);
- `search` returns at most 1,000 results for a query string (`issueCount` may be larger) and accepts at
  most 256 characters; it honours `is:pr`, `repo:` (several = OR), `updated:`/`created:` ranges with
  ISO-8601 timestamps, and `sort:updated|created-asc|desc`;
- the primary rate limit: `rateLimit { cost remaining ... }` and `x-ratelimit-*` headers on every answer;
  the switch `{"github_rate_limit_exhausted": true}` (POST /_mock/switch) spends the budget so requests
  answer 403 "API rate limit exceeded" until the reset, one or two seconds later;
  `{"github_rate_limit_remaining": N}` leaves N points with the same near reset; the budget is
  `MockState.github_rate_limit` points (GitHub's 5,000; `emd mock-api --rate-limit N`) per
  `MockState.github_rate_window_s` seconds (an hour; tests of paced backfills shorten it);
- auth: `Authorization: bearer <token>` (or `token <token>`): the PAT or a live App installation token
  (mock_apis/github_app.py), else 401 "Bad credentials".

Test switch `{"github_payload_drop": "<field>"}` removes that field from every object in answers (an API
that changed shape), so the client's "unexpected payload" errors can be exercised over real HTTP.

What real GitHub does beyond the happy path (issue 10), each behind a switch:
- `{"github_timeout": {"search_above": 25, "nodes_above": 2000, "form": "502" | "504" | "null",
  "times": N}}`: a query whose `search` page asks for more than `search_above` results, or whose node
  count (as above) exceeds `nodes_above`, is stopped as GitHub stops a query that runs past ~10 s: a 502
  with GitHub's JSON body, a 504 from the gateway, or 200 with `data: null` and the "Something went wrong
  while executing your query. This may be the result of a timeout" error (`form`, default "null");
  `times` limits how many answers time out (then the switch turns itself off). The real trigger is time,
  which heavy nested pages on busy repositories take; the mock stands in for it with page size and nodes.
- `{"github_deleted_repos": ["acme/x"]}`: the repo is gone: search answers "cannot be searched" (type
  INVALID, `data: null`), `repository(...)` answers NOT_FOUND with a null repository.
- `{"github_renamed_repos": {"acme/api": "acme/api-v2"}}`: the repo now lives under the new name (a rename
  or a transfer): `repo:acme/api` cannot be searched any more, `repository(owner: "acme", name: "api")`
  follows the rename (as GitHub's redirects do) and every `nameWithOwner` says `acme/api-v2`.
- `{"github_sso_repos": ["acme/x"]}`: the repo is behind SAML SSO the token is not authorized for: FORBIDDEN.
- `{"github_stuck_cursor": true}`: `search` ignores `after` (a broken cache or proxy): the same page and the
  same `endCursor` come back for ever; `{"github_endless_pages": true}`: `search` says `hasNextPage: true`
  on every page, past the last result.
"""

from __future__ import annotations

import base64
import functools
import math
import os
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, overload

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    get_named_type,
    is_object_type,
    parse,
    validate,
    value_from_ast,
)

from mock_apis.github_app import authorized, token_permissions
from mock_apis.github_data import GitHubData, github_data
from mock_apis.huge_day import HugeDay
from mock_apis.server import MockState, Request, Response, Router

SCHEMA_PATH = Path(__file__).resolve().parent / "specs" / "github-schema.graphql"
SEARCH_RESULT_CAP = 1000
SEARCH_QUERY_MAX_CHARS = 256
MAX_PAGE = 100
MAX_NODES = 500_000
DOCS = "https://docs.github.com/graphql"


def schema_path() -> Path:
    """GitHub's schema shipped in mock_apis/specs/, overridable with EMD_GITHUB_SCHEMA."""
    return Path(os.environ.get("EMD_GITHUB_SCHEMA", str(SCHEMA_PATH)))


@functools.lru_cache(maxsize=1)
def github_schema() -> GraphQLSchema:
    """GitHub's public schema, built once (about a second) when the first query arrives."""
    path = schema_path()
    if not path.is_file():
        raise FileNotFoundError(f"GitHub's GraphQL schema is not at {path}: the mock validates every query against it. "
                                "Set EMD_GITHUB_SCHEMA to the path of github-schema.graphql.")
    return build_schema(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=256)
def _parse_and_validate(query: str) -> tuple[DocumentNode | None, tuple[dict[str, Any], ...]]:
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (_error(exc.message, "parseError", exc),)
    errors = validate(github_schema(), document)
    return document, tuple(_error(e.message, "invalidQuery", e) for e in errors)


def _error(message: str, code: str, exc: GraphQLError | None = None, path: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if exc is not None and exc.locations:
        error["locations"] = [{"line": loc.line, "column": loc.column} for loc in exc.locations]
    if path is not None:
        error["path"] = path
    return error


# -- GitHub's pagination rules and node limit --------------------------------------------------------

class _Limits:
    """Walks the operation as GitHub's query analyzer does: pagination bounds, node count and cost."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]):
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.errors: list[dict[str, Any]] = []
        self.node_count = 0
        self.page_sizes: dict[str, int] = {}  # connection field name -> the largest first/last asked of it
        self.requests = 0  # GitHub's cost: one request per connection per parent node

    def run(self, operation: OperationDefinitionNode) -> None:
        root = self.schema.query_type if operation.operation.value == "query" else self.schema.mutation_type
        if root is not None:
            self._walk(operation.selection_set, root, 1, ["query"])

    def _fields(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType
                ) -> list[tuple[FieldNode, GraphQLNamedType]]:
        out: list[tuple[FieldNode, GraphQLNamedType]] = []
        if selection_set is None:
            return out
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append((sel, parent))
            elif isinstance(sel, InlineFragmentNode):
                cond = self.schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                out.extend(self._fields(sel.selection_set, cond or parent))
            elif isinstance(sel, FragmentSpreadNode):
                frag = self.fragments.get(sel.name.value)
                if frag:
                    cond = self.schema.get_type(frag.type_condition.name.value)
                    out.extend(self._fields(frag.selection_set, cond or parent))
        return out

    def _arg(self, node: FieldNode, name: str, field_def: Any) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                return value_from_ast(arg.value, field_def.args[name].type, self.variables)
        return None

    def _walk(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, multiplier: int,
              path: list[str]) -> None:
        for node, owner in self._fields(selection_set, parent):
            name = node.name.value
            if name.startswith("__") or not hasattr(owner, "fields") or name not in owner.fields:  # type: ignore[attr-defined]
                continue
            field_def = owner.fields[name]  # type: ignore[attr-defined]
            target: Any = get_named_type(field_def.type)
            here = path + [node.alias.value if node.alias else name]
            is_connection = target.name.endswith("Connection") and "first" in field_def.args
            if not is_connection:
                self._walk(node.selection_set, target, multiplier, here)
                continue
            inner = self._fields(node.selection_set, target)
            returns_nodes = [(f, t) for f, t in inner if f.name.value in ("nodes", "edges")]
            if not returns_nodes:
                continue  # totalCount / pageInfo only: no nodes, no bounds needed
            first, last = self._arg(node, "first", field_def), self._arg(node, "last", field_def)
            if first is None and last is None:
                self.errors.append({"message": f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
                                    "type": "MISSING_PAGINATION_BOUNDARIES", "path": here,
                                    "extensions": {"code": "MISSING_PAGINATION_BOUNDARIES"}})
                continue
            bad = False
            for arg_name, value in (("first", first), ("last", last)):
                if value is None:
                    continue
                if value > MAX_PAGE:
                    self.errors.append({"message": f"Requesting {value} records on the `{name}` connection exceeds the `{arg_name}` limit of {MAX_PAGE} records.",
                                        "type": "EXCESSIVE_PAGINATION", "path": here,
                                        "extensions": {"code": "EXCESSIVE_PAGINATION"}})
                    bad = True
                elif value < 1 and name != "search":
                    self.errors.append({"message": f"`{arg_name}` on the `{name}` connection cannot be less than one.",
                                        "type": "INVALID_PAGINATION", "path": here,
                                        "extensions": {"code": "INVALID_PAGINATION"}})
                    bad = True
            if bad:
                continue
            page = max(first or 0, last or 0)
            self.page_sizes[name] = max(page, self.page_sizes.get(name, 0))
            self.requests += multiplier
            self.node_count += multiplier * page
            if self.node_count > MAX_NODES:
                self.errors.append({"message": f"By the time this query traverses to the {name} connection, it is requesting up to {self.node_count:,} possible nodes which exceeds the maximum limit of {MAX_NODES:,}.",
                                    "type": "MAX_NODE_LIMIT_EXCEEDED", "path": here,
                                    "extensions": {"code": "MAX_NODE_LIMIT_EXCEEDED"}})
                return
            for f, t in returns_nodes:
                item_type: Any = get_named_type(t.fields[f.name.value].type)  # type: ignore[attr-defined]
                if f.name.value == "edges" and is_object_type(item_type):
                    for ef, et in self._fields(f.selection_set, item_type):
                        if ef.name.value == "node":
                            node_type: Any = get_named_type(et.fields["node"].type)  # type: ignore[attr-defined]
                            self._walk(ef.selection_set, node_type, multiplier * page, here + ["edges", "node"])
                else:
                    self._walk(f.selection_set, item_type, multiplier * page, here + [f.name.value])

    @property
    def cost(self) -> int:
        return max(1, round(self.requests / 100))


# -- connections and search ------------------------------------------------------------------------

def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _offset(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from exc


def connection(items: Sequence[Any], first: int | None = None, last: int | None = None, after: str | None = None,
               before: str | None = None, **extra: Any) -> dict[str, Any]:
    start, end = 0, len(items)
    a, b = _offset(after), _offset(before)
    if a is not None:
        start = a + 1
    if b is not None:
        end = min(end, b)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    page = items[start:end]
    return {
        "totalCount": len(items),
        "nodes": page,
        "edges": [{"cursor": _cursor(start + i), "node": node} for i, node in enumerate(page)],
        "pageInfo": {"hasNextPage": end < len(items), "hasPreviousPage": start > 0,
                     "startCursor": _cursor(start) if page else None, "endCursor": _cursor(end - 1) if page else None},
        **extra,
    }


_RANGE = re.compile(r"^(?P<a>[^.<>=]*)\.\.(?P<b>[^.<>=]*)$")


def _parse_when(text: str, end_of: bool) -> datetime:
    """A search qualifier date: `YYYY-MM-DD` (whole day) or ISO-8601 with time and zone (`Z` or offset)."""
    text = text.strip()
    if text == "*":
        return datetime.max.replace(tzinfo=UTC) if end_of else datetime.min.replace(tzinfo=UTC)
    if len(text) == 10:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(seconds=1) if end_of else day
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _date_filter(spec: str) -> tuple[datetime, datetime]:
    lo, hi = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    match = _RANGE.match(spec)
    if match:
        return _parse_when(match["a"], False), _parse_when(match["b"], True)
    for op in (">=", "<=", ">", "<"):
        if spec.startswith(op):
            value = spec[len(op):]
            if op == ">=":
                return _parse_when(value, False), hi
            if op == ">":
                return _parse_when(value, True) + timedelta(seconds=1), hi
            if op == "<=":
                return lo, _parse_when(value, True)
            return lo, _parse_when(value, False) - timedelta(seconds=1)
    return _parse_when(spec, False), _parse_when(spec, True)


def search_pull_requests(data: GitHubData, query: str) -> list[dict[str, Any]]:
    """Every PR matching a GitHub search string (before the 1,000-result cap), in the requested order."""
    repos: list[str] = []
    updated = created = None
    sort_key, descending = "created", True  # GitHub's default order for an empty text query: newest first
    states: set[str] = set()
    kinds: set[str] = set()
    for token in query.split():
        key, _, value = token.partition(":")
        key = key.lower()
        if key == "repo" and value:
            repos.append(value.lower())
        elif key in ("is", "type") and value in ("pr", "issue"):
            kinds.add(value)
        elif key == "is" and value in ("open", "closed", "merged"):
            states.add(value)
        elif key == "updated":
            updated = _date_filter(value)
        elif key == "created":
            created = _date_filter(value)
        elif key == "sort":
            field, _, direction = value.partition("-")
            if field not in ("updated", "created"):
                raise GraphQLError(f"Unsupported sort field `{field}` in the search query.")
            sort_key, descending = field, direction != "asc"
    if kinds == {"issue"}:
        return []  # the synthetic org has no issues on GitHub (Jira holds them)
    wanted = set(repos)
    unknown = sorted(wanted - {name.lower() for name in data.repos})
    if unknown:
        raise GraphQLError("The listed users and repositories cannot be searched either because the resources do not "
                           f"exist or you do not have permission to view them: {', '.join(unknown)}.")
    matches = []
    for pr in data.pull_requests:
        if wanted and pr["_repo"].lower() not in wanted:
            continue
        if updated and not (updated[0] <= pr["_updated"] <= updated[1]):
            continue
        if created and not (created[0] <= pr["_created"] <= created[1]):
            continue
        if states:
            state = pr["state"].lower()
            if not ("open" in states and state == "open" or "closed" in states and state != "open"
                    or "merged" in states and state == "merged"):
                continue
        matches.append(pr)
    sort_field = "_updated" if sort_key == "updated" else "_created"
    matches.sort(key=lambda p: (p[sort_field], p["_repo"], p["number"]), reverse=descending)
    return matches


# -- resolvers -----------------------------------------------------------------------------------------

class _Root:
    def __init__(self, data: GitHubData, rate: dict[str, Any]):
        self.data = data
        self.rate = rate


# The GitHub App permission a field needs beyond metadata/contents/pull_requests (which a token cannot lack:
# the pipeline refuses such a token when it is created).
FIELD_PERMISSIONS = {("Repository", "deployments"): "deployments"}


def _resolver(data: GitHubData, scenario: _Scenario) -> Any:
    def resolve(source: Any, info: Any, **args: Any) -> Any:
        parent, name = info.parent_type.name, info.field_name
        if (parent, name) == ("Query", "search"):
            return _search(data, source, args, scenario)
        if (parent, name) == ("Query", "repository"):
            return _repository(data, source, args, scenario)
        needed = FIELD_PERMISSIONS.get((parent, name))
        if needed and scenario.permissions is not None and needed not in scenario.permissions:
            raise GraphQLError("Resource not accessible by integration", extensions={"type": "FORBIDDEN"})
        if (parent, name) == ("Repository", "nameWithOwner") and isinstance(source, dict):
            return scenario.display_name(str(source.get("nameWithOwner")))
        special = _RESOLVERS.get((parent, name))
        if special is not None:
            return special(data, source, args)
        if isinstance(source, _Root):
            return source.rate if name == "rateLimit" else None
        if isinstance(source, dict):
            return source.get(name)
        return getattr(source, name, None)

    return resolve


class _Scenario:
    """The repository scenarios switched on for one request (deleted, renamed, behind SSO) and paging bugs."""

    def __init__(self, switches: dict[str, Any], huge_day: HugeDay | None = None):
        self.huge_day = huge_day
        self.deleted = {str(r).lower() for r in switches.get("github_deleted_repos") or ()}
        self.sso = {str(r).lower() for r in switches.get("github_sso_repos") or ()}
        renamed = switches.get("github_renamed_repos") or {}
        self.old_to_new = {str(k).lower(): str(v) for k, v in renamed.items()}
        self.new_to_old = {str(v).lower(): str(k) for k, v in renamed.items()}
        self.stuck_cursor = bool(switches.get("github_stuck_cursor"))
        self.permissions: dict[str, str] | None = None  # an installation token's (None: the PAT reads everything)
        self.endless_pages = bool(switches.get("github_endless_pages"))

    def display_name(self, internal: str) -> str:
        return self.old_to_new.get(internal.lower(), internal)

    def forbidden(self, name: str) -> GraphQLError:
        return GraphQLError("Resource protected by organization SAML enforcement. You must grant your Personal "
                            "Access token access to this organization.", extensions={"type": "FORBIDDEN"})

    def search_query(self, query: str) -> str:
        """The query with `repo:` names as the data knows them; unsearchable names raise as GitHub answers."""
        out, unknown = [], []
        for token in query.split():
            key, _, value = token.partition(":")
            if key.lower() == "repo" and value:
                name = value.lower()
                if name in self.sso:
                    raise self.forbidden(value)
                if name in self.deleted or name in self.old_to_new:
                    unknown.append(value)
                    continue
                token = f"repo:{self.new_to_old.get(name, value)}"
            out.append(token)
        if unknown:
            raise GraphQLError("The listed users and repositories cannot be searched either because the resources "
                               f"do not exist or you do not have permission to view them: {', '.join(unknown)}.")
        return " ".join(out)


class _HugeMatches(Sequence[dict[str, Any]]):
    """The org's matches followed (or, newest first, preceded) by a huge day's, built only when paged to."""

    def __init__(self, regular: list[dict[str, Any]], huge: HugeDay, indices: range, repo_obj: dict[str, Any],
                 descending: bool):
        self.regular, self.huge, self.repo_obj, self.descending = regular, huge, repo_obj, descending
        self.indices = indices[::-1] if descending else indices
        self.cap: int | None = None

    def capped(self, cap: int) -> _HugeMatches:
        view = _HugeMatches(self.regular, self.huge, range(0), self.repo_obj, self.descending)
        view.indices, view.cap = self.indices, cap
        return view

    def __len__(self) -> int:
        total = len(self.regular) + len(self.indices)
        return total if self.cap is None else min(total, self.cap)

    def _item(self, position: int) -> dict[str, Any]:
        if self.descending:
            if position < len(self.indices):
                return self.huge.pull_request(self.indices[position], self.repo_obj)
            return self.regular[position - len(self.indices)]
        first = len(self.regular)
        if position < first:
            return self.regular[position]
        return self.huge.pull_request(self.indices[position - first], self.repo_obj)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self)))]
        return self._item(index if index >= 0 else len(self) + index)


def _with_huge_day(data: GitHubData, huge: HugeDay, query: str, regular: list[dict[str, Any]]
                   ) -> Sequence[dict[str, Any]]:
    repos, lo, hi, descending = [], datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC), True
    pr_only = False
    for token in query.split():
        key, _, value = token.partition(":")
        key = key.lower()
        if key == "repo" and value:
            repos.append(value.lower())
        elif key == "updated":
            lo, hi = _date_filter(value)
        elif key == "sort":
            descending = value.partition("-")[2] != "asc"
        elif key in ("is", "type") and value == "pr":
            pr_only = True
        elif key in ("is", "type", "created") or ":" in token:
            return regular  # the huge day's PRs answer only the searches the client sends
    repo_obj = next((r for name, r in data.repos.items() if name.lower() == huge.repo.lower()), None)
    indices = huge.matches(repos, lo, hi) if pr_only and repo_obj is not None else range(0)
    if not indices:
        return regular
    return _HugeMatches(regular, huge, indices, repo_obj or {}, descending)


def _search(data: GitHubData, _source: Any, args: dict[str, Any], scenario: _Scenario) -> dict[str, Any]:
    query = args["query"]
    if len(query) > SEARCH_QUERY_MAX_CHARS:
        raise GraphQLError(f"The search query is too long: {len(query)} characters, the maximum is {SEARCH_QUERY_MAX_CHARS}.")
    matches: Sequence[dict[str, Any]] = []
    if args["type"] in ("ISSUE", "ISSUE_ADVANCED"):
        text = scenario.search_query(query)
        matches = search_pull_requests(data, text)
        if scenario.huge_day is not None and scenario.huge_day.pull_requests > 0:
            matches = _with_huge_day(data, scenario.huge_day, text, list(matches))
    page_args = {k: args.get(k) for k in ("first", "last", "after", "before")}
    if scenario.stuck_cursor:
        page_args["after"] = None
    capped = matches.capped(SEARCH_RESULT_CAP) if isinstance(matches, _HugeMatches) else list(matches[:SEARCH_RESULT_CAP])
    result = connection(capped, **page_args, issueCount=len(matches), codeCount=0,
                        discussionCount=0, repositoryCount=0, userCount=0, wikiCount=0)
    if scenario.endless_pages:
        end = (_offset(page_args["after"]) or -1) + (page_args["first"] or 0)
        result["pageInfo"] = {**result["pageInfo"], "hasNextPage": True, "endCursor": _cursor(end)}
    return result


def _page(key: str) -> Any:
    def resolve(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        items = source.get(key, [])
        return connection(items, **{k: args.get(k) for k in ("first", "last", "after", "before")})
    return resolve


def _timeline(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    items = source.get("_timeline", [])
    wanted = args.get("itemTypes")
    if wanted:
        names = {"".join(part.capitalize() for part in t.split("_")) for t in wanted}
        names = {n.replace("Pull Request", "PullRequest") for n in names}
        items = [i for i in items if i["__typename"] in names]
    since = args.get("since")
    if since:
        items = [i for i in items if i["_at"] >= _parse_when(str(since), False)]
    return connection(items, **{k: args.get(k) for k in ("first", "last", "after", "before")},
                      filteredCount=len(items), pageCount=len(items), updatedAt=source.get("updatedAt"))


def _review_comments(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    count = source.get("_comments", 0)
    comments = [{"__typename": "PullRequestReviewComment", "id": f"{source['id']}-c{i}", "body": "nit"} for i in range(count)]
    return connection(comments, **{k: args.get(k) for k in ("first", "last", "after", "before")})


def _ordered(key: str, created_key: str = "_created") -> Any:
    def resolve(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        items = list(source.get(key, []))
        order = args.get("orderBy") or {}
        environments = args.get("environments")
        if environments:
            items = [i for i in items if i.get("environment") in environments]
        field = order.get("field", "CREATED_AT")
        sort_key = (lambda i: i.get("tagName") or "") if field == "NAME" else (lambda i: i[created_key])
        items.sort(key=sort_key, reverse=order.get("direction") == "DESC")
        return connection(items, **{k: args.get(k) for k in ("first", "last", "after", "before")})
    return resolve


def _repository(data: GitHubData, _source: Any, args: dict[str, Any], scenario: _Scenario
                ) -> dict[str, Any] | None:
    full = f"{args['owner']}/{args['name']}"
    if full.lower() in scenario.sso:
        raise scenario.forbidden(full)
    if full.lower() in scenario.deleted:
        raise GraphQLError(f"Could not resolve to a Repository with the name '{full}'.")
    full = scenario.new_to_old.get(full.lower(), full)  # the new name of a renamed repo, or the old (redirected)
    for name, repo in data.repos.items():
        if name.lower() == full.lower():
            return repo
    raise GraphQLError(f"Could not resolve to a Repository with the name '{full}'.")


def _node(data: GitHubData, _source: Any, args: dict[str, Any]) -> dict[str, Any] | None:
    found = data.nodes.get(args["id"])
    if found is None:
        raise GraphQLError(f"Could not resolve to a node with the global id of '{args['id']}'")
    return found


def _nodes(data: GitHubData, _source: Any, args: dict[str, Any]) -> list[dict[str, Any] | None]:
    return [data.nodes.get(i) for i in args["ids"]]


def _issues(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Repository.issues with `labels` (any of), `states`, `filterBy: {since, labels, states}` and `orderBy`."""
    items = list(source.get("_issues", []))
    filters = args.get("filterBy") or {}
    labels = {name.lower() for name in (args.get("labels") or []) + (filters.get("labels") or [])}
    if labels:
        items = [i for i in items if labels & {label["name"].lower() for label in i.get("_labels", [])}]
    states = set(args.get("states") or []) | set(filters.get("states") or [])
    if states:
        items = [i for i in items if i["state"] in states]
    since = filters.get("since")
    if since:
        items = [i for i in items if _parse_when(i["updatedAt"], False) >= _parse_when(str(since), False)]
    order = args.get("orderBy") or {}
    key = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt"}.get(order.get("field", "CREATED_AT"), "createdAt")
    items.sort(key=lambda i: (i[key], i["number"]), reverse=order.get("direction") == "DESC")
    return connection(items, **{k: args.get(k) for k in ("first", "last", "after", "before")})


def _object(_data: GitHubData, source: dict[str, Any], args: dict[str, Any]) -> dict[str, Any] | None:
    """Repository.object(expression: "<rev>:<path>"): a Blob of the default branch's `_blobs` (path -> text), else null."""
    rev, _, path = str(args.get("expression") or "").partition(":")
    if rev not in ("HEAD", (source.get("defaultBranchRef") or {}).get("name")):
        return None
    text = source.get("_blobs", {}).get(path)
    if text is None:
        return None
    return {"__typename": "Blob", "id": f"B_{source['id']}:{path}", "oid": "0" * 40, "text": text,
            "isTruncated": False, "isBinary": False, "byteSize": len(text.encode())}


_RESOLVERS: dict[tuple[str, str], Any] = {
    ("Query", "node"): _node,
    ("Query", "nodes"): _nodes,
    ("PullRequest", "reviews"): _page("_reviews"),
    ("PullRequest", "commits"): _page("_commits"),
    ("PullRequest", "labels"): _page("_labels"),
    ("PullRequest", "timelineItems"): _timeline,
    ("PullRequestReview", "comments"): _review_comments,
    ("Repository", "releases"): _ordered("_releases"),
    ("Repository", "deployments"): _ordered("_deployments"),
    ("Repository", "pullRequests"): _page("_prs"),
    ("Deployment", "statuses"): _page("_statuses"),
    ("Repository", "issues"): _issues,
    ("Repository", "object"): _object,
    ("Issue", "labels"): _page("_labels"),
    ("PullRequest", "files"): _page("_files"),
}


def served_data(state: MockState) -> GitHubData:
    """What the mock serves: a test's own GitHubData (`state.extra["github_data"]`), else the synthetic org's."""
    override = state.extra.get("github_data")
    return override if isinstance(override, GitHubData) else github_data(state.org)


# -- rate limit ---------------------------------------------------------------------------------------

def _rate_state(state: MockState) -> dict[str, Any]:
    with state.lock:
        limit, window = state.github_rate_limit, state.github_rate_window_s
        rate = state.extra.setdefault("github_rate", {"used": 0, "reset": time.time() + window, "limit": limit})
        rate["limit"], now = limit, time.time()
        if now >= rate["reset"]:
            rate["used"], rate["reset"] = 0, now + window
        if state.switches.pop("github_rate_limit_exhausted", False):
            rate["used"], rate["reset"] = limit, now + 1.5
        low = state.switches.pop("github_rate_limit_remaining", None)
        if low is not None:  # nearly spent: the next answer's rateLimit shows it, the reset is near
            rate["used"], rate["reset"] = limit - int(low), now + 1.5
        return rate


def _rate_headers(rate: dict[str, Any]) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(rate["limit"]),
        "x-ratelimit-remaining": str(max(0, rate["limit"] - rate["used"])),
        "x-ratelimit-used": str(rate["used"]),
        "x-ratelimit-reset": str(math.ceil(rate["reset"])),
        "x-ratelimit-resource": "graphql",
    }


# -- HTTP handlers --------------------------------------------------------------------------------------



def register(router: Router, state: MockState) -> None:
    def graphql_endpoint(req: Request, _m: re.Match[str]) -> Response:
        state.count("github:graphql")
        if not authorized(req, state):
            return Response(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql",
                                  "status": "401"})
        rate = _rate_state(state)
        if rate["used"] >= rate["limit"]:
            state.count("github:rate_limited")
            return Response(403, {"message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support "
                                             "for help, please include the request ID.",
                                  "documentation_url": "https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api"},
                            _rate_headers(rate))
        status, body = _answer(req, state, rate)
        return Response(status, body, _rate_headers(rate))

    for path in ("/graphql", "/api/graphql"):
        router.add("POST", path, graphql_endpoint)


def _answer(req: Request, state: MockState, rate: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    try:
        payload = req.json()
    except (ValueError, UnicodeDecodeError):
        return 400, {"message": "Problems parsing JSON", "documentation_url": DOCS}
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return 400, {"message": "A query attribute must be specified and must be a string.", "documentation_url": DOCS}
    variables = payload.get("variables") or {}
    document, errors = _parse_and_validate(payload["query"])
    if errors or document is None:
        return 200, {"errors": list(errors)}
    schema = github_schema()
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = payload.get("operationName")
    operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
    if operation is None:
        return 200, {"errors": [_error(f"No operation named {name!r}", "operationNotFound")]}
    limits = _Limits(schema, document, variables)
    try:
        limits.run(operation)
    except GraphQLError as exc:  # a variable of the wrong type: the executor would say the same
        return 200, {"errors": [_error(exc.message, "variableMismatch", exc)]}
    if limits.errors:
        return 200, {"errors": limits.errors}
    if "search" in limits.page_sizes:
        state.count(f"github:search_first:{limits.page_sizes['search']}")
    timed_out = _timed_out(state, limits)
    if timed_out is not None:
        return timed_out
    with state.lock:
        rate["used"] += limits.cost
        rate_view = {"__typename": "RateLimit", "cost": limits.cost, "limit": rate["limit"],
                     "remaining": max(0, rate["limit"] - rate["used"]), "used": rate["used"],
                     "nodeCount": limits.node_count,
                     "resetAt": datetime.fromtimestamp(math.ceil(rate["reset"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    data = served_data(state)
    with state.lock:
        scenario = _Scenario(dict(state.switches), state.extra.get("huge_day"))
    scenario.permissions = token_permissions(req, state)
    result: Any = execute(schema, document, root_value=_Root(data, rate_view), variable_values=variables,
                          operation_name=name, field_resolver=_resolver(data, scenario))
    body: dict[str, Any] = {"data": result.data}
    dropped = state.switches.get("github_payload_drop")
    if dropped:  # simulate an API change: a field we rely on is no longer in the answer
        _drop_key(body["data"], str(dropped))
    if result.errors:
        body["errors"] = [{"message": e.message, "path": e.path,
                           "locations": [{"line": loc.line, "column": loc.column} for loc in e.locations or ()],
                           "type": (e.extensions or {}).get("type")
                           or ("NOT_FOUND" if "Could not resolve" in e.message else "INVALID")}
                          for e in result.errors]
    return 200, body


TIMEOUT_MESSAGE = ("Something went wrong while executing your query. This may be the result of a timeout, or it "
                   "could be a GitHub bug. Please include `{request_id}` when reporting this issue.")


def _timed_out(state: MockState, limits: _Limits) -> tuple[int, dict[str, Any]] | None:
    """The `github_timeout` switch: the answer GitHub gives a query it stopped after ~10 s, or None."""
    with state.lock:
        spec = state.switches.get("github_timeout")
        if not isinstance(spec, dict):
            return None
        heavy = (spec.get("search_above") is not None and limits.page_sizes.get("search", 0) > int(spec["search_above"])
                 or spec.get("nodes_above") is not None and limits.node_count > int(spec["nodes_above"]))
        if not heavy:
            return None
        if spec.get("times") is not None:
            spec["times"] = int(spec["times"]) - 1
            if spec["times"] <= 0:
                state.switches.pop("github_timeout")
        form = str(spec.get("form") or "null")
    state.count("github:timeout")
    state.count(f"github:timeout:search_first:{limits.page_sizes.get('search', 0)}")
    message = TIMEOUT_MESSAGE.format(request_id=f"E3A1:{limits.node_count:X}:MOCK")
    if form == "504":
        return 504, {"message": "We couldn't respond to your request in time. Sorry about that. Please try "
                                "resubmitting your request and contact us if the problem persists."}
    return (502 if form == "502" else 200), {"data": None, "errors": [{"message": message}]}


def _drop_key(value: Any, key: str) -> None:
    if isinstance(value, dict):
        value.pop(key, None)
        for inner in value.values():
            _drop_key(inner, key)
    elif isinstance(value, list):
        for inner in value:
            _drop_key(inner, key)


__all__ = ["register", "github_schema", "search_pull_requests", "connection"]
