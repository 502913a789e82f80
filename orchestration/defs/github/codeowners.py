"""CODEOWNERS and the files of pull requests: what decides a PR's team in a repo several teams share.

- `repository_heads(client, repos)`: each repo's default branch and its CODEOWNERS file, looked for where
  GitHub looks (`.github/CODEOWNERS`, then `CODEOWNERS`, then `docs/CODEOWNERS`; the first found is used),
  read from the default branch with GraphQL `object(expression: "HEAD:<path>")`; 50 repos per request.
- `parse_codeowners(text)`: the rules in file order, each pattern also as an anchored POSIX regex over
  repository paths (the warehouse matches PR files against it; the last matching rule wins, in dbt).
- `pull_request_files(client, prs)`: the changed files (path, additions, deletions) of PRs, 100 PRs per
  request through `nodes(ids:)` with `files(first: 100)`; a PR with more files is paged on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from emd.http import ApiPayloadError
from orchestration.defs.github.resource import GitHubClient

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's order of precedence
REPOS_PER_HEADS_REQUEST = 50
PRS_PER_FILES_REQUEST = 100
FILES_PAGE_SIZE = 100
RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining used resetAt nodeCount }"
FILE_FIELDS = "totalCount pageInfo { hasNextPage endCursor } nodes { path additions deletions }"

PULL_REQUEST_FILES = f"""
query PullRequestFiles($ids: [ID!]!) {{
  {RATE_LIMIT_FIELDS}
  nodes(ids: $ids) {{
    __typename
    ... on PullRequest {{ id number repository {{ nameWithOwner }} files(first: {FILES_PAGE_SIZE}) {{ {FILE_FIELDS} }} }}
  }}
}}
"""

PULL_REQUEST_FILES_PAGE = f"""
query PullRequestFilesPage($id: ID!, $cursor: String) {{
  {RATE_LIMIT_FIELDS}
  node(id: $id) {{
    __typename
    ... on PullRequest {{ files(first: {FILES_PAGE_SIZE}, after: $cursor) {{ {FILE_FIELDS} }} }}
  }}
}}
"""


def repository_heads_query(count: int) -> str:
    """Default branch and the three CODEOWNERS candidates of `count` repos, aliased r0..rN / c0..c2."""
    declarations = ", ".join(f"$owner{i}: String!, $name{i}: String!" for i in range(count))
    files = " ".join(f'c{j}: object(expression: "HEAD:{path}") {{ __typename ... on Blob {{ text isTruncated }} }}'
                     for j, path in enumerate(CODEOWNERS_PATHS))
    blocks = "\n".join(f"  r{i}: repository(owner: $owner{i}, name: $name{i}) {{ nameWithOwner defaultBranchRef "
                       f"{{ name }} {files} }}" for i in range(count))
    return f"query RepositoryHeads({declarations}) {{\n  {RATE_LIMIT_FIELDS}\n{blocks}\n}}\n"


@dataclass(frozen=True)
class RepositoryHead:
    repo: str
    default_branch: str | None
    codeowners_path: str | None  # None: the repo has no CODEOWNERS file
    codeowners_text: str | None


def repository_heads(client: GitHubClient, repos: Iterable[str]) -> dict[str, RepositoryHead]:
    wanted = sorted(set(repos))
    out: dict[str, RepositoryHead] = {}
    for offset in range(0, len(wanted), REPOS_PER_HEADS_REQUEST):
        batch = wanted[offset:offset + REPOS_PER_HEADS_REQUEST]
        variables: dict[str, Any] = {}
        for i, repo in enumerate(batch):
            owner, name = repo.split("/", 1)
            variables.update({f"owner{i}": owner, f"name{i}": name})
        data = client.graphql(repository_heads_query(len(batch)), variables, "repository default branches and CODEOWNERS")
        for i, repo in enumerate(batch):
            node = data.get(f"r{i}")
            if not isinstance(node, dict):
                raise ApiPayloadError(f"GitHub returned no repository for {repo}; check `github.repos`")
            branch = (node.get("defaultBranchRef") or {}).get("name")
            path = text = None
            for j, candidate in enumerate(CODEOWNERS_PATHS):
                blob = node.get(f"c{j}")
                if isinstance(blob, dict) and blob.get("__typename") == "Blob" and blob.get("text") is not None:
                    path, text = candidate, str(blob["text"])
                    break
            out[repo] = RepositoryHead(repo, branch, path, text)
    return out


@dataclass(frozen=True)
class CodeownersRule:
    index: int  # 1-based, file order
    pattern: str
    path_regex: str
    owners: tuple[str, ...]


_REGEX_SPECIAL = set(".^$+()[]{}|\\")


def pattern_regex(pattern: str) -> str:
    """A CODEOWNERS pattern (gitignore syntax as GitHub applies it) as an anchored regex over repo paths.

    A leading `/` or a `/` inside the pattern anchors it at the repository root; otherwise it matches at any
    depth. A trailing `/` matches everything under that directory; a pattern whose last part has no wildcard
    matches that file or everything under that directory; `docs/*` matches only files directly in docs/
    (as GitHub documents). `*` is any run of characters but `/`, `?` one such character, `**` any depth.
    """
    body = pattern
    anchored = body.startswith("/") or "/" in body.rstrip("/")
    body = body.lstrip("/")
    directory = body.endswith("/")
    body = body.rstrip("/")
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out.append("/.*")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append("\\" + body[i] if body[i] in _REGEX_SPECIAL else body[i])
            i += 1
    regex = "".join(out)
    last_part = body.rsplit("/", 1)[-1]
    if directory:
        suffix = "/.*"
    elif body.endswith("/**") or ("*" in last_part or "?" in last_part) and "/" in body:
        suffix = ""
    else:
        suffix = "(/.*)?"
    prefix = "" if anchored or body.startswith("**/") else "(.*/)?"
    return f"^{prefix}{regex}{suffix}$"


def parse_codeowners(text: str) -> list[CodeownersRule]:
    """The rules of a CODEOWNERS file in order; comments, blank lines and negations (unsupported) are skipped."""
    rules: list[CodeownersRule] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("!"):
            continue
        tokens = stripped.split()
        owners: list[str] = []
        for token in tokens[1:]:
            if token.startswith("#"):
                break
            owners.append(token)
        rules.append(CodeownersRule(len(rules) + 1, tokens[0], pattern_regex(tokens[0]), tuple(owners)))
    return rules


def codeowners_rows(heads: dict[str, RepositoryHead]) -> list[dict[str, Any]]:
    """raw_github_codeowners: a marker row (rule 0) per repo, then one row per (rule, owner)."""
    rows: list[dict[str, Any]] = []
    for repo, head in sorted(heads.items()):
        rows.append({"repo": repo, "file_path": head.codeowners_path, "rule_index": 0, "owner_index": 0,
                     "pattern": None, "path_regex": None, "owner": None})
        for rule in parse_codeowners(head.codeowners_text or ""):
            for owner_index, owner in enumerate(rule.owners or (None,)):
                rows.append({"repo": repo, "file_path": head.codeowners_path, "rule_index": rule.index,
                             "owner_index": owner_index, "pattern": rule.pattern, "path_regex": rule.path_regex,
                             "owner": owner.lower().lstrip("@") if owner else None})
    return rows


def _files_page(node: Any, entity: str) -> dict[str, Any]:
    files = node.get("files") if isinstance(node, dict) else None
    if not isinstance(files, dict) or not isinstance(files.get("nodes"), list):
        raise ApiPayloadError(f"GitHub returned {entity} without `files`; nothing was written for this partition")
    for item in files["nodes"]:
        for field in ("path", "additions", "deletions"):
            if not isinstance(item, dict) or item.get(field) is None:
                raise ApiPayloadError(f"GitHub returned a changed file of {entity} without `{field}`")
    return files


def pull_request_files(client: GitHubClient, prs: Sequence[tuple[str, int, str]]) -> list[dict[str, Any]]:
    """raw_github_pull_request_files rows for `prs` given as (repo, number, node id)."""
    rows: list[dict[str, Any]] = []
    for offset in range(0, len(prs), PRS_PER_FILES_REQUEST):
        batch = prs[offset:offset + PRS_PER_FILES_REQUEST]
        data = client.graphql(PULL_REQUEST_FILES, {"ids": [pr_id for _, _, pr_id in batch]}, "pull request files")
        nodes = data.get("nodes")
        if not isinstance(nodes, list) or len(nodes) != len(batch):
            raise ApiPayloadError("GitHub answered the pull request files query without one node per id")
        for (repo, number, pr_id), node in zip(batch, nodes, strict=True):
            entity = f"pull request {repo}#{number}"
            if node is None:
                continue  # deleted since it was fetched: it has no files to count
            files = _files_page(node, entity)
            found = list(files["nodes"])
            while files["pageInfo"].get("hasNextPage"):
                page = client.graphql(PULL_REQUEST_FILES_PAGE, {"id": pr_id, "cursor": files["pageInfo"]["endCursor"]},
                                      f"{entity} files")
                files = _files_page(page.get("node"), entity)
                found.extend(files["nodes"])
            seen: set[str] = set()
            for item in found:
                if item["path"] in seen:
                    continue
                seen.add(item["path"])
                rows.append({"repo": repo, "pr_number": number, "path": item["path"],
                             "additions": int(item["additions"]), "deletions": int(item["deletions"])})
    return rows
