"""Every GraphQL document the GitHub client sends (tests validate each against GitHub's public schema).

One search request brings up to 100 PRs with their labels, reviews, commits and timeline events through
nested connections (about 32,000 nodes of GitHub's 500,000 limit, cost 4 points); a follow-up query pages
one nested connection of one PR only when that PR has more than a page of it. The search page size
(`$pageSize`) and the nested page size (`$nestedPageSize`) are variables: the client asks for smaller pages
when GitHub stops a heavy query (a timeout), down to `MIN_PAGE_SIZE`.
"""

from __future__ import annotations

PAGE_SIZE = 100
MIN_PAGE_SIZE = 10  # the smallest page (search or nested) the client shrinks to after GraphQL timeouts
LABEL_PAGE_SIZE = 20
TIMELINE_ITEM_TYPES = ("READY_FOR_REVIEW_EVENT", "CONVERT_TO_DRAFT_EVENT", "REOPENED_EVENT", "CLOSED_EVENT",
                       "MERGED_EVENT")

RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining used resetAt nodeCount }"

PAGE_INFO = "pageInfo { hasNextPage endCursor }"

REVIEW_FIELDS = """
fragment ReviewFields on PullRequestReview {
  id
  databaseId
  author { __typename login }
  authorAssociation
  state
  submittedAt
  createdAt
  url
  comments { totalCount }
}
"""

COMMIT_FIELDS = """
fragment CommitFields on PullRequestCommit {
  id
  commit {
    oid
    authoredDate
    committedDate
    message
    author { name email date user { login } }
  }
}
"""

TIMELINE_FIELDS = """
fragment TimelineFields on PullRequestTimelineItems {
  __typename
  ... on ReadyForReviewEvent { id createdAt actor { __typename login } }
  ... on ConvertToDraftEvent { id createdAt actor { __typename login } }
  ... on ReopenedEvent { id createdAt actor { __typename login } }
  ... on ClosedEvent { id createdAt actor { __typename login } }
  ... on MergedEvent { id createdAt mergeRefName actor { __typename login } }
}
"""

_ITEM_TYPES = "[" + ", ".join(TIMELINE_ITEM_TYPES) + "]"

PULL_REQUEST_FIELDS = f"""
fragment PullRequestFields on PullRequest {{
  id
  databaseId
  number
  title
  url
  state
  isDraft
  baseRefName
  headRefName
  additions
  deletions
  changedFiles
  createdAt
  updatedAt
  closedAt
  mergedAt
  mergeCommit {{ oid }}
  author {{ __typename login }}
  repository {{ nameWithOwner defaultBranchRef {{ name }} }}
  labels(first: {LABEL_PAGE_SIZE}) {{ totalCount {PAGE_INFO} nodes {{ name }} }}
  reviews(first: $nestedPageSize) {{ totalCount {PAGE_INFO} nodes {{ ...ReviewFields }} }}
  commits(first: $nestedPageSize) {{ totalCount {PAGE_INFO} nodes {{ ...CommitFields }} }}
  timelineItems(first: $nestedPageSize, itemTypes: {_ITEM_TYPES}) {{ totalCount {PAGE_INFO} nodes {{ ...TimelineFields }} }}
}}
"""

SEARCH_PULL_REQUESTS = f"""
query SearchPullRequests($searchQuery: String!, $pageSize: Int!, $nestedPageSize: Int!, $cursor: String) {{
  {RATE_LIMIT_FIELDS}
  search(query: $searchQuery, type: ISSUE, first: $pageSize, after: $cursor) {{
    issueCount
    {PAGE_INFO}
    nodes {{
      __typename
      ... on PullRequest {{ ...PullRequestFields }}
    }}
  }}
}}
{PULL_REQUEST_FIELDS}{REVIEW_FIELDS}{COMMIT_FIELDS}{TIMELINE_FIELDS}
"""


def _nested(connection: str, args: str, nodes: str, fragments: str) -> str:
    return f"""
query PullRequest_{connection}($id: ID!, $cursor: String) {{
  {RATE_LIMIT_FIELDS}
  node(id: $id) {{
    __typename
    ... on PullRequest {{
      {connection}(first: {PAGE_SIZE}, after: $cursor{args}) {{ totalCount {PAGE_INFO} nodes {{ {nodes} }} }}
    }}
  }}
}}
{fragments}"""


# The follow-up query for each nested connection of a PR that has more than one page of it.
NESTED_PAGE_QUERIES: dict[str, str] = {
    "labels": _nested("labels", "", "name", ""),
    "reviews": _nested("reviews", "", "...ReviewFields", REVIEW_FIELDS),
    "commits": _nested("commits", "", "...CommitFields", COMMIT_FIELDS),
    "timelineItems": _nested("timelineItems", f", itemTypes: {_ITEM_TYPES}", "...TimelineFields", TIMELINE_FIELDS),
}

RELEASE_FIELDS = """
fragment ReleaseFields on Release {
  id
  databaseId
  tagName
  name
  isDraft
  isPrerelease
  isLatest
  createdAt
  publishedAt
  url
  author { login }
  tagCommit { oid }
}
"""

DEPLOYMENT_FIELDS = """
fragment DeploymentFields on Deployment {
  id
  databaseId
  environment
  createdAt
  updatedAt
  commitOid
  task
  description
  state
  ref { name }
  creator { __typename login }
  latestStatus { id state createdAt updatedAt environment description }
}
"""

# Where a configured repository lives now: GitHub's `repository(owner:, name:)` follows renames and
# transfers, while `repo:` search qualifiers do not.
REPOSITORY_NAME = f"""
query RepositoryName($owner: String!, $name: String!) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{ nameWithOwner }}
}}
"""

REPO_PAGE_SIZE = 100  # releases/deployments per repo per request (newest first; old partitions page back to them)


def repository_pages_query(kind: str, count: int) -> str:
    """One request pages `kind` ("releases" or "deployments") of `count` repositories, aliased r0..rN."""
    if kind not in ("releases", "deployments"):
        raise ValueError(f"unknown repository connection {kind!r}")
    fragment_name, fragment = (("ReleaseFields", RELEASE_FIELDS) if kind == "releases"
                               else ("DeploymentFields", DEPLOYMENT_FIELDS))
    declarations = ", ".join(f"$owner{i}: String!, $name{i}: String!, $cursor{i}: String" for i in range(count))
    blocks = "\n".join(
        f"  r{i}: repository(owner: $owner{i}, name: $name{i}) {{\n"
        f"    nameWithOwner\n"
        f"    {kind}(first: {REPO_PAGE_SIZE}, after: $cursor{i}, orderBy: {{field: CREATED_AT, direction: DESC}}) "
        f"{{ {PAGE_INFO} nodes {{ ...{fragment_name} }} }}\n  }}"
        for i in range(count)
    )
    name = "RepositoryReleases" if kind == "releases" else "RepositoryDeployments"
    return f"query {name}({declarations}) {{\n  {RATE_LIMIT_FIELDS}\n{blocks}\n}}\n{fragment}"
