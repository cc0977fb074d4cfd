"""One evaluation for every model family: metrics and plots."""
