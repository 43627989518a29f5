"""Heard on Slack: families answer in a DM with the app, workers make invite
cards with `/heard invite`, and the rest of Heard can `deliver` to people and
channels. See docs/slack.md for setting up the Slack app."""

from adapters.slack.channel import SlackChannel
from adapters.slack.convert import PLATFORM, render, to_inbound
from bot.config import Config
from bot.service.ports import StaffDesk


def channel_from_config(config: Config, staff: StaffDesk) -> SlackChannel:
    """The runtime registry's entry point."""
    return SlackChannel.from_config(config, staff)


__all__ = ["PLATFORM", "SlackChannel", "channel_from_config", "render", "to_inbound"]
