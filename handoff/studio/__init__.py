"""The content studio (``/studio``): review inbox, coverage, editing of examples, answers and store facts."""
