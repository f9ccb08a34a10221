"""Virtual visits on top of the scheduler, meetings and mail: intake records, consent, the
one gate every meeting link goes through, and the booking service the dialogs use."""
