"""Signals other apps can listen to.

``job_status_changed(sender=FineTuningJob, job, old_status, new_status)`` is
sent once per real status change, after the transaction that recorded it
has committed.
"""

from django.dispatch import Signal

job_status_changed = Signal()
