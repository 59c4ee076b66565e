"""Training: the Task and its TrainState, losses, the pure train and evaluation steps, whole runs as
one compiled program (configs x seeds), and the epoch trainer with its checkpoints."""
