// The portal's chat: a Direct Line token for the signed-in patient, then Microsoft's Web Chat.
// Served from our own origin so the page's Content-Security-Policy needs no inline script;
// Web Chat's injected styles carry this script's CSP nonce. The token resumes the patient's
// latest conversation, history included (after a reload or a new sign-in); the header's
// "New conversation" button asks for a fresh one and re-creates Web Chat.
(function () {
  const nonce = document.currentScript.nonce;

  async function start(fresh) {
    const response = await fetch('/portal/api/directline-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ locale: navigator.language || '', new: fresh })
    });
    const old = document.getElementById('webchat');
    const host = document.createElement('div');  // a new element: Web Chat starts afresh
    host.id = 'webchat';
    host.setAttribute('role', 'main');
    old.replaceWith(host);
    if (!response.ok) { host.textContent = 'Chat unavailable.'; return; }
    const grant = await response.json();
    const directLine = window.WebChat.createDirectLine({
      token: grant.token, domain: window.location.origin + '/directline', webSocket: false
    });
    // A new bot message in another locale confirms a language change: the page is served
    // again in that language, Web Chat re-created with its labels, the conversation resumed.
    const since = Date.parse(grant.issuedAt);
    const store = window.WebChat.createStore({}, () => next => action => {
      if (action.type === 'DIRECT_LINE/INCOMING_ACTIVITY') {
        const activity = action.payload.activity;
        const locale = activity.channelData && activity.channelData.carebotLocale;
        if (activity.from && activity.from.role === 'bot' && locale &&
            locale !== grant.locale && Date.parse(activity.timestamp) > since) {
          setTimeout(() => window.location.reload(), 600);
        }
      }
      return next(action);
    });
    window.WebChat.renderWebChat(
      { directLine, store, nonce, userID: grant.userId, username: grant.userName, locale: grant.locale,
        styleOptions: { bubbleBorderRadius: 8, bubbleFromUserBorderRadius: 8, hideUploadButton: true } },
      host
    );
    host.querySelector('input, textarea')?.focus();
  }

  document.getElementById('new-conversation')?.addEventListener('click', () => start(true));
  start(false);
})();
