"""Model: the card of the model the API serves (`GET /model`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.client import ApiClient, ApiError


def render(client: ApiClient) -> None:
    st.header("Model")
    try:
        card = client.model_card()
    except ApiError as error:
        st.error(str(error))
        return
    st.subheader(f"{card.get('name')} version {card.get('version')}")
    family, embedding, threshold, runtime = st.columns(4)
    family.metric("Family", str(card.get("model_family") or "unknown"))
    embedding.metric("Embedding", str(card.get("embedding_type") or "unknown"))
    threshold.metric("Threshold", f"{card.get('threshold', float('nan')):.2f}")
    runtime.metric("Runtime", str(card.get("runtime") or "unknown"))
    if card.get("stale"):
        st.warning("The API serves its last good model: the registry could not be read.")
    metrics = card.get("metrics") or {}
    st.subheader("Metrics")
    if metrics:
        st.table(pd.DataFrame({"metric": list(metrics), "value": list(metrics.values())}))
    else:
        st.write("This bundle carries no metrics.")
    cpu = card.get("cpu") or {}
    st.subheader("CPU")
    flags = cpu.get("flags") or {}
    st.write(
        f"Machine: {cpu.get('machine', 'unknown')}; flags: "
        + (", ".join(f"{name} {'yes' if has else 'no'}" for name, has in flags.items()) or "none")
    )
    with st.expander("The whole card"):
        st.json(card)
