/// The stage kinds that join the pipeline to the engine and the data (issue 5).
public enum Stages {}
