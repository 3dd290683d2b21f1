"""The sfp operations, written as workflows with the SDK (`from sfpserver.hatchet import ...`), and the sfp CLI
runner they share.

Layout
    operations.py         the module listed in ENGINE_WORKFLOW_MODULES: serves every workflow below
    workflows/standard.py build, quickbuild, install, validate, release, release definition, pool prepare,
                          source tracking, environment lock/unlock, impact analysis (standard pool)
    workflows/long_running.py  full Apex test suite, bulk metadata, the release pipeline (long-running pool)
    workflows/recurring.py     code analysis, environment health check, cache refresh (with on_crons)
    inputs.py             typed (pydantic) inputs, validated at trigger time wherever the trigger comes from
    steps.py              what every step does: workspace, leases, checkout, org logins, commands
    pools.py              `pool(STANDARD | LONG_RUNNING)`: the required desired worker label
    sfp/runner.py         one command in its own process group: streaming, progress, outcome, stopping
    sfp/standin.py        the Salesforce stand-in (SFP_CLI=standin)
    sfp/git.py            checkout of file://, ssh and https repositories; git mirrors
    sample_repo.py        a sample sfdx repository for tests and the demo

Which credentials a step may lease (the choice)
    A step declares credentials in its StepDef `args["credentials"]`, which the vault's lease checks. The SDK
    gains two keyword arguments on `@workflow.task(...)` (an extension to Hatchet's signature):
    `credentials=[names]` (fixed names) and `credentials_from_input=[dotted paths]` (names the run's input
    carries, e.g. "target_org" or "repositories.token_credential"). The engine resolves the paths when the
    run is triggered (sfpserver/engine/definitions.py `resolve_args`) and records the names on the step run
    in Postgres, before any step code runs. So the vault's guarantee holds as before: a step leases only
    what its recorded declaration names, only while its attempt runs on the asking worker; a step cannot
    widen its own declaration at run time, and each step of a pipeline names only the orgs it uses
    (`deploy_production` cannot lease the staging org). What a run may name is bounded by who may trigger
    it (the API's roles). Names only: inputs never carry secret values.

Secrets in the sfp process
    Auth URLs reach `sfp org login url --url-stdin -` through stdin; tokens reach processes through their
    environment (git reads SFP_GIT_TOKEN through a credential helper configured with GIT_CONFIG_* variables
    for the repository's https host only, `credential.https://HOST.helper`, after the vault agreed that host;
    the private .npmrc refers to ${SFP_NPM_TOKEN}). The CLI gets a clean environment (not the worker's:
    no database URL, no vault keys), HOME and TMPDIR inside the step's 0700 workspace, which is removed when
    the step ends; the leased values are cleared by the vault when the attempt's outcome is recorded, and
    everything the step reports passes through the vault's redactor.

Salesforce stand-in
    SFP_CLI=standin (the default here, since Salesforce cannot be reached) sends org-bound commands, and the
    sfp-pro commands the community CLI lacks (project:pull/push/analyze), to tasks/sfp/standin.py; org-free
    commands (impact package, releasedefinition generate) always run the pinned real CLI (SFP_BIN, installed
    by `make install` from tasks/sfp/npm). With SFP_CLI=real every command runs the real CLI.
"""
