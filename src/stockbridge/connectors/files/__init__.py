"""CSV file drops: batch exports taken from watched folders, and CSV availability feeds.

Inbound (`[files.sources.NAME]`): complete files are read, checked as a whole (header,
trailer count, sequence), turned line by line into canonical events and applied through
the hub's ingest path in batches; bad lines are listed in an error file beside the
archived one and kept as business exceptions. Outbound (target kind `csv`): availability
written as CSV files in a folder, for systems that only take files.
"""
