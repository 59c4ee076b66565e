"""The course's experiments as functions: each module has a frozen `Config` and
`train_and_evaluate(config, workdir) -> result` (see jaxdl.course.experiment); the CLIs in
experiments/ parse flags into a Config and call it."""
