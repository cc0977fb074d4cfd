"""The inference API: serves the registered champion's bundle over HTTP and keeps feedback."""
