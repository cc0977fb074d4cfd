"""One module per page of the console; each has `render(client)`.

Not `pages/`: Streamlit would list such a folder next to `app.py` as pages of its own."""
