"""The Crossdesk bot: Rasa domain, NLU components, NLG and content-staff commands."""

import warnings


def quiet_expected_warnings() -> None:
    """Ignore Rasa's "no matching response defined" warning for ``utter_*`` actions.

    Responses live per language in bot/responses/ (served by bot.nlg), not in
    the domain; ``python -m bot check`` verifies each exists in every language.
    Rasa's logging setup puts a "once" filter in front, so call this after it.
    """
    warnings.filterwarnings("ignore", message=r"Action 'utter_\w+' is listed as a response action")


quiet_expected_warnings()
