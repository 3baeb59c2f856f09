/// The tiny SBCL recipe the device pipeline tests run: recipes/smoke.yaml cut to 24 training and
/// 10 test images a class of Fashion-MNIST (imbalance 0.5), a ResNet-20 trained for 2 epochs with
/// re-clustering from epoch 2, a 4-epoch classifier — about a minute on PoCL on two cores.
public enum TinyRecipe {
    /// The recipe's YAML with the encoder's batch size `batchSize`.
    public static func text(batchSize: Int) -> String {
        """
        name: tiny
        seed: 0
        stages:
          data: {kind: dataset, source: fashion_mnist, per_class_limit: 24, test_per_class_limit: 10}
          lt: {kind: imbalance, inputs: [data], factor: 0.5}
          views: {kind: augmentation}
          clusters: {kind: clustering, warmup_epochs: 1, every: 1}
          loss: {kind: contrastive_loss}
          encoder: {kind: encoder, inputs: [lt, views, clusters, loss], depth: 20, epochs: 2, batch_size: \(batchSize), checkpoint_every: 1}
          classifier: {kind: classifier, inputs: [encoder, lt], augment: false, epochs: 4, milestones: [2, 3]}
          evaluation: {kind: evaluation, inputs: [classifier, encoder, lt]}
        """
    }
}
