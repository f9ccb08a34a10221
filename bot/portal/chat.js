// The portal's chat: a Direct Line token for the signed-in patient, then Microsoft's Web Chat.
// Served from our own origin so the page's Content-Security-Policy needs no inline script;
// Web Chat's injected styles carry this script's CSP nonce.
(async function () {
  const nonce = document.currentScript.nonce;
  const response = await fetch('/portal/api/directline-token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ locale: navigator.language || '' })
  });
  if (!response.ok) { document.getElementById('webchat').textContent = 'Chat unavailable.'; return; }
  const grant = await response.json();
  const directLine = window.WebChat.createDirectLine({
    token: grant.token, domain: window.location.origin + '/directline', webSocket: false
  });
  window.WebChat.renderWebChat(
    { directLine, nonce, userID: grant.userId, username: grant.userName, locale: grant.locale,
      styleOptions: { bubbleBorderRadius: 8, bubbleFromUserBorderRadius: 8, hideUploadButton: true } },
    document.getElementById('webchat')
  );
  document.querySelector('#webchat input, #webchat textarea')?.focus();
})();
