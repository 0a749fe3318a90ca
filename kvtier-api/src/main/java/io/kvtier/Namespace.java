package io.kvtier;

import java.util.Objects;

/**
 * What KV belongs to: a model, its layout and an optional adapter (LoRA). Nothing is ever shared
 * across namespaces: the namespace enters every block key and every namespace has its own prefix
 * tree.
 *
 * @param model model id, non-empty
 * @param layout the model's KV layout
 * @param adapter adapter id, or the empty string for the base model
 */
public record Namespace(String model, KvLayout layout, String adapter) {

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException when the model id is empty or a component is null
   */
  public Namespace {
    Objects.requireNonNull(layout, "layout");
    Objects.requireNonNull(adapter, "adapter (use \"\" for none)");
    if (model == null || model.isEmpty()) {
      throw new IllegalArgumentException("model id must be non-empty");
    }
  }

  /**
   * A base-model namespace.
   *
   * @param model model id
   * @param layout its layout
   * @return the namespace
   */
  public static Namespace of(String model, KvLayout layout) {
    return new Namespace(model, layout, "");
  }

  /**
   * The same model with an adapter.
   *
   * @param adapterId adapter id
   * @return a new namespace
   */
  public Namespace withAdapter(String adapterId) {
    return new Namespace(model, layout, adapterId);
  }
}
