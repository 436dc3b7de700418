"""The questionnaire engine: expression language, definitions, XLSForm I/O and page logic.

Nothing here touches the database or Flask; services and views build on it.
"""




