"""Retraining from the API's feedback: reading the verdicts users gave (`store`), turning
them into clean labelled tweets (`clean`), the champion's recipe (`recipe`), the rule that
promotes a challenger (`gate`), and the challenger's run (`challenger`)."""
