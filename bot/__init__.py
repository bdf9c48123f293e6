"""The Crossdesk bot: Rasa domain, NLU components, NLG and content-staff commands."""

import warnings

# Responses live per language in bot/responses/ (served by bot.nlg), not in the
# domain, so Rasa's "no matching response defined" warning is expected.
warnings.filterwarnings("ignore", message=r"Action 'utter_\w+' is listed as a response action")
