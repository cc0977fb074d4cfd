"""Retraining from the API's feedback: reading the verdicts users gave (`store`), turning
them into clean labelled tweets (`clean`), the challenger's recipes (`recipes`: a head on
the frozen encoder's embeddings, `encoder_recipe`; TF-IDF + logistic regression or the
champion's own, `recipe`; their interface, `fitting`), the rule that promotes a challenger
(`gate`), and the challenger's run (`challenger`)."""
