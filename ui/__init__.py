"""The Streamlit console of the airline's team; it talks to the API over HTTP only."""
