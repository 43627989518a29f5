"""Heard on Slack: families answer in a DM with the app, workers make invite
cards with `/heard invite`, and the rest of Heard can `deliver` to people and
channels. See docs/slack.md for setting up the Slack app."""

from adapters.slack.channel import ActionHandler, SlackChannel
from adapters.slack.convert import PLATFORM, render, to_inbound

__all__ = ["PLATFORM", "ActionHandler", "SlackChannel", "render", "to_inbound"]
