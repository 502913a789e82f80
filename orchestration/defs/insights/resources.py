"""The LLM and Slack as Dagster resources. Keys, tokens, URLs and the model come from the environment only
(OPENAI_API_KEY, OPENAI_BASE_URL, EMD_LLM_MODEL; SLACK_BOT_TOKEN, SLACK_CHANNEL_ID, SLACK_API_URL), read
when a run uses them: the resources have no fields, so run config cannot point them at another host."""

from __future__ import annotations

from dagster import ConfigurableResource

from emd.slack import SlackTarget, slack_target
from orchestration.defs.insights.card import LlmSettings, llm_settings


class LlmResource(ConfigurableResource):
    """An OpenAI-compatible chat model for the Sprint Health card; without OPENAI_API_KEY the card is the
    rule-based one."""

    def settings(self) -> LlmSettings | None:
        return llm_settings()


class SlackResource(ConfigurableResource):
    """Where the card is posted; without SLACK_BOT_TOKEN and SLACK_CHANNEL_ID nothing is posted."""

    def target(self) -> SlackTarget | None:
        return slack_target()
