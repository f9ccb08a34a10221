// The staff handoff page: the patient's messages appear as they arrive (server-sent events).
(function () {
  'use strict';
  var box = document.getElementById('messages');
  if (!box || !window.EventSource) { return; }
  var status = document.getElementById('status');
  var source = new EventSource(box.dataset.stream + '?after=' + box.dataset.last);
  source.addEventListener('message', function (event) {
    if (box.querySelector('[data-id="' + event.lastEventId + '"]')) { return; }
    var data = JSON.parse(event.data);
    var line = document.createElement('p');
    line.className = 'msg ' + data.sender;
    line.dataset.id = event.lastEventId;
    var who = document.createElement('b');
    who.textContent = data.sender === 'patient' ? 'Patient' : 'Care team';
    line.appendChild(who);
    line.appendChild(document.createTextNode(' ' + data.text));
    box.appendChild(line);
  });
  source.addEventListener('status', function (event) {
    status.textContent = event.data;
    if (event.data === 'closed') { source.close(); }
  });
}());
