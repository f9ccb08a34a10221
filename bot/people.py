"""Who is talking: the person behind an incoming activity, resolved by the server."""

from __future__ import annotations

from botbuilder.schema import Activity

from dialogs.base import Language, Person
from dialogs.texts import language_from_locale
from integrations.accounts import Account, AccountRepository

# Activities of the local Direct Line carry the account id the server put in `from.id`.
LOCAL_CHANNEL = "directline"
LOCAL_SERVICE_URL = "carebot:local-directline"


class PersonResolver:
    """Maps an activity's sender to an account (local channel, Teams Entra id) or a guest."""

    def __init__(
        self,
        accounts: AccountRepository,
        default_language: Language,
        *,
        trust_channel_identities: bool,
    ) -> None:
        self._accounts = accounts
        self._default_language = default_language
        # Only a JWT-checked channel (an app id is configured) vouches for an Entra user id;
        # without it anyone could post an activity naming someone else's aadObjectId.
        self._trust_channel_identities = trust_channel_identities

    async def account_for(self, activity: Activity) -> Account | None:
        """The account behind the activity, if the channel vouches for one."""
        sender = activity.from_property
        if sender is None:
            return None
        if activity.service_url == LOCAL_SERVICE_URL:
            return await self._accounts.get(sender.id)
        aad_object_id = getattr(sender, "aad_object_id", None)
        if aad_object_id and self._trust_channel_identities:
            return await self._accounts.by_aad_object_id(aad_object_id)
        return None

    async def resolve(self, activity: Activity) -> Person:
        """The person talking, with the language to answer in."""
        account = await self.account_for(activity)
        locale_language = language_from_locale(activity.locale)
        if account is None:
            sender = activity.from_property
            name = (sender.name if sender else None) or ""
            return Person(
                account_id=f"{activity.channel_id}:{sender.id if sender else 'unknown'}",
                display_name=name,
                role="guest",
                language=locale_language or self._default_language,
            )
        language = language_from_locale(account.language) or locale_language
        return Person(
            account_id=account.id,
            display_name=account.display_name,
            role=account.role.value,
            fhir_reference=account.fhir_reference,
            language=language or self._default_language,
        )
