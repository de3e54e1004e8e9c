"""Import batches (一括登録): their lifecycle; the CSV kinds come with the import issue."""

from __future__ import annotations

from services.models.workflow import ImportBatchEvent, ImportBatchStatus
from services.platform.lifecycle import Lifecycle

B, BE = ImportBatchStatus, ImportBatchEvent
IMPORT_BATCH = Lifecycle("import_batch", B, BE, {
    (B.UPLOADED, BE.VALIDATE): B.VALIDATED,
    (B.UPLOADED, BE.DISCARD): B.DISCARDED,
    (B.VALIDATED, BE.APPLY): B.APPLIED,
    (B.VALIDATED, BE.DISCARD): B.DISCARDED,
    (B.APPLIED, BE.ROLL_BACK): B.ROLLED_BACK,
})
