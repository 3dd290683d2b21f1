"""How a run is known to have talked to the Salesforce stand-in rather than Salesforce: the sfp operations
(tasks/sfp/runner.py) start the log line of every command the stand-in answers with this mark, and the run
detail (sfpserver/api) shows `salesforce_standin` when one does."""

STANDIN_MARK = "[Salesforce stand-in] "
