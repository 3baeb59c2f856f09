/// The built-in recipe: `recipes/fashion_mnist_lt.yaml`, word for word (a test compares them).
extension Stages {
    /// The Fashion-MNIST recipe's text; `defaultRecipe` returns it.
    static let fashionMNISTRecipe = #"""
# SBCL on the real Fashion-MNIST, long-tailed at imbalance ratio 100 (6000 … 60 training images
# per class, 14,874 in all), sized to finish on 2 CPU cores in under 15 minutes: a ResNet-32 for
# 1-channel 28×28 images trained for a few epochs (SupCon first, then SBCL with re-clustering every
# epoch), an LDAM-DRW cosine classifier on cached features, evaluation on the 10,000 test images.
# `sbcl-run` runs this recipe when given none.
name: fashion_mnist_lt
seed: 0
stages:
  data:
    kind: dataset
    source: fashion_mnist     # /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
  lt:
    kind: imbalance
    inputs: [data]
    profile: exp
    factor: 0.01              # n_c = floor(6000 · 0.01^(c/9))
  views:
    kind: augmentation        # RandomResizedCrop(28, 0.2–1), flip, jitter, grayscale (a no-op on 1 channel)
    normalize: auto           # mean/std of the training images
  clusters:
    kind: clustering
    warmup_epochs: 2          # plain SupCon for epochs 1–2
    every: 1                  # then re-cluster before every epoch
    min_cluster_size: 10      # M
  loss:
    kind: contrastive_loss    # sbcl, rank variant, τ 0.1, τ_base 0.07, γ 0.25
  encoder:
    kind: encoder
    inputs: [lt, views, clusters, loss]
    depth: 32
    epochs: 4
    batch_size: 128
    learning_rate: 0.1
    checkpoint_every: 1
  classifier:
    kind: classifier
    inputs: [encoder, lt]
    method: ldam_drw          # the paper's second stage, with the reference's 200-epoch schedule
    augment: false            # train on cached features of the un-augmented images (seconds, not hours)
  evaluation:
    kind: evaluation
    inputs: [classifier, encoder, lt]

"""#
}
