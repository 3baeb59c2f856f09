/// The built-in recipe: `recipes/fashion_mnist_lt.yaml`, word for word (a test compares them).
extension Stages {
    /// The Fashion-MNIST recipe's text; `defaultRecipe` returns it.
    static let fashionMNISTRecipe = #"""
# SBCL on the real Fashion-MNIST, long-tailed at imbalance ratio 100, sized to finish on 2 CPU
# cores in under 15 minutes (about 7 on an idle machine): the first 1500 training images of each
# class cut to 1500 … 15 per class (3,720 in all; many-, medium- and few-shot classes), a ResNet-32
# for 1-channel 28×28 images trained for 12 epochs (3 of SupCon, then SBCL with re-clustering
# before epochs 4, 7 and 10), an LDAM-DRW cosine classifier on cached features, evaluation on all
# 10,000 test images. `sbcl-run` runs this recipe when given none. For the full training set
# (6000 … 60, 14,886 images; no class below 20 images, so no few-shot group) add
# stages.data.per_class_limit=0; an encoder epoch then takes four times as long.
name: fashion_mnist_lt
seed: 0
stages:
  data:
    kind: dataset
    source: fashion_mnist     # /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)
    per_class_limit: 1500     # the first 1500 training images of each class, in file order
  lt:
    kind: imbalance
    inputs: [data]
    profile: exp
    factor: 0.01              # n_c = floor(1500 · 0.01^(c/9)): 1500, 899, 539, 323, 193, 116, 69, 41, 25, 15
  views:
    kind: augmentation        # RandomResizedCrop(28, 0.2–1), flip, jitter, grayscale (a no-op on 1 channel)
    normalize: auto           # mean/std of the training images
  clusters:
    kind: clustering
    warmup_epochs: 3          # plain SupCon in epochs 1–3
    every: 3                  # then re-cluster before epochs 4, 7 and 10
    min_cluster_size: 10      # M
  loss:
    kind: contrastive_loss    # sbcl, rank variant, τ 0.1, τ_base 0.07, γ 0.25
  encoder:
    kind: encoder
    inputs: [lt, views, clusters, loss]
    depth: 32
    epochs: 12
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
