"""Every MLflow name parsweep writes or reads: run tags, metrics and params, in one place.

The spec's names are a contract (other tools, the docs and the tests rely on them); the rest
are parsweep's own and documented in the README. ``analysis`` reads runs through these too.
"""

from __future__ import annotations

# -- MLflow's own tags ------------------------------------------------------------------------
PARENT_TAG = "mlflow.parentRunId"
DESCRIPTION_TAG = "mlflow.note.content"  # a run's description, rendered as markdown by the UI

# -- what a run is --------------------------------------------------------------------------
ROLE_TAG = "parsweep.role"  # "sweep" or "trial"
SWEEP_TAG = "parsweep.sweep"  # the sweep's run id, on the sweep and on each of its trials
CONFIG_HASH_TAG = "parsweep.config_hash"  # identity of a trial's measurement (runner.trial.spec)
PLAN_HASH_TAG = "parsweep.plan_hash"  # identity of a sweep's plan: what resume=true matches
BACKEND_TAG = "parsweep.backend"
WORKLOAD_FUNCTION_TAG = "parsweep.workload_function"  # workload=custom: module:function
REPRODUCES_TAG = "parsweep.reproduces"  # parsweep-reproduce: the run a new run re-ran

# -- how a trial went -----------------------------------------------------------------------
ERROR_TAG = "parsweep.error"
WARNINGS_TAG = "parsweep.warnings"  # one warning per line
TRUST_TAG = "parsweep.trust"  # "ok", or reasons joined by "; " (runner.trial.trust.REASONS)
DISCARDED_TAG = "parsweep.discarded"  # why repetitions were measured again, one line per reason
SAMPLES_TAG = "parsweep.rep_wall_times_s"  # the recorded repetitions' wall times, comma-separated
SAMPLE_ROUNDS_TAG = "parsweep.sample_rounds"  # interleaved: each sample's round in its group (from 0), same order
SAMPLE_STARTS_TAG = "parsweep.sample_starts"  # interleaved: each sample's dispatch, seconds after its group's start
SAMPLE_PROBES_TAG = "parsweep.sample_probes"  # each sample's speed probe (s, mean of before and after), same order
SAMPLE_PROCESSES_TAG = "parsweep.sample_processes"  # each sample's trial process (0, 1, ...: repeats_per_process), same order
CPUS_TAG = "parsweep.cpus"  # the CPUs a trial (its process and workers) could run on, comma-separated
REPEATS_STOP_TAG = "parsweep.repeats_stop"  # repeats=auto: the rule that stopped it
SCHEDULE_TAG = "parsweep.schedule"  # "interleaved" or "sequential"
SCHEDULE_SEED_TAG = "parsweep.schedule_seed"  # the seed of the interleaved order
GROUP_TAG = "parsweep.group"  # trials measured together, in rounds (interleaved)
PYTHON_LABEL_TAG = "python.label"  # the interpreter as the report names it: 3.11.7, 3.13.5t (one of the python.* facts)

# -- sweeps ---------------------------------------------------------------------------------
TRIALS_TOTAL_TAG = "parsweep.trials_total"
SWEPT_TAG = "parsweep.swept"
OVERRIDES_TAG = "parsweep.overrides"
PRESET_TAG = "parsweep.preset"
SWEEP_DIR_TAG = "parsweep.sweep_dir"
RESUMED_TAG = "parsweep.resumed"  # how many times the sweep was resumed
RESUME_SKIPPED_TAG = "parsweep.resume_skipped"  # trials the last resume found already FINISHED
LAUNCHER_HOST_TAG = "parsweep.launcher.host"  # who runs the sweep now: a RUNNING sweep whose launcher
LAUNCHER_PID_TAG = "parsweep.launcher.pid"  # is gone from this host was interrupted (runner.tracking.interrupted)
LAUNCHER_BOOT_TAG = "parsweep.launcher.boot"
JOURNAL_KEY_TAG = "parsweep.journal_key"  # a trial run's line in its sweep's journal: what is in the store, exactly

# -- what a report writes back (analysis.notebook), so MLflow's own views show the answer -----
TRIAL_METRICS = ("speedup", "speedup_ci_low", "speedup_ci_high", "efficiency")  # the trial's report row's
SPEEDUP_TRUST_TAG = "parsweep.speedup_trust"  # the row's trust: the trial's own plus its baseline's reasons
CI_METHOD_TAG = "parsweep.ci_method"  # how the row's interval was computed (paired | unpaired)
SWEEP_METRICS = (
    "best_speedup", "best_speedup_ci_low", "best_speedup_ci_high", "best_workers",
    "trials", "trials_finished", "trials_failed", "trusted_share", "duration_s",
)
BEST_TAG = "parsweep.best"  # on the sweep: the configuration of its best (trusted) speedup
COMPARE_TAG = "parsweep.compare"  # on a comparison's run (parsweep-report --compare A B --log): "A B"

# -- experiments: MLflow's UI (3.x) opens one tagged custom_model_development on the classic runs
# table (genai_development: traces and judges; untagged: guessed), with the named primary metric.
EXPERIMENT_TAGS = {
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.experiment.primaryMetric.name": "speedup",
    "mlflow.experiment.primaryMetric.greaterIsBetter": "true",
}

# -- metrics and params -----------------------------------------------------------------------
SAMPLE_METRIC = "rep_wall_time_s"  # one value per recorded repetition, step = its index
REPS_DISCARDED_METRIC = "reps_discarded"
REPS_INTERFERED_METRIC = "reps_interfered"
