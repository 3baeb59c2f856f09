/// Data set readers, the long-tail selection, augmentations and the batch loader (issue 4).
public enum Datasets {}
