"""The annotation loop: Label Studio round trip, agreement, sampling and label-error detection.

Modules (import what you need; nothing heavy is imported here):

* :mod:`pipeline.annotate.labelstudio`: ``oversight annotate export|import``, tasks with
  pre-annotations and the labeling config out, annotators' exports back in;
* :mod:`pipeline.annotate.agreement`: Cohen's kappa, Krippendorff's alpha, per-label
  disagreement, adjudication and final labels;
* :mod:`pipeline.annotate.sampling`: which entries to label next (uncertainty, random,
  stratified);
* :mod:`pipeline.annotate.label_issues` and :mod:`pipeline.annotate.learning_curve`: likely
  mislabelled examples, and the value of uncertainty sampling.

Annotators follow ``docs/labelling-guide.md``.
"""
