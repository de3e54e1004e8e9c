"""CSV bulk operations (一括登録): batches and their kinds."""
