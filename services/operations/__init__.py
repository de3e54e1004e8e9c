"""Running the operation: recovery actions on the review queue, network incidents."""
