// The staff alert inbox: new alerts arrive as server-sent events and are added as rows.
(function () {
  "use strict";
  var list = document.getElementById("alerts");
  if (!list) { return; }
  function row(alert) {
    var item = document.createElement("li");
    item.className = "alert";
    item.id = "alert-" + alert.id;
    item.dataset.task = alert.id;
    var what = document.createElement("strong");
    what.textContent = alert.what;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = alert.patient || "Unassigned patient";
    var when = document.createElement("time");
    when.textContent = alert.when;
    item.append(what, " · ", who, " · ", when);
    if (alert.patient) {
      var open = document.createElement("a");
      open.href = "/staff/alerts/" + encodeURIComponent(alert.id) + "/open";
      open.textContent = "Open";
      item.append(" ", open);
    }
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/staff/alerts/" + encodeURIComponent(alert.id) + "/ack";
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = alert.csrf;
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Acknowledge";
    form.append(token, button);
    item.append(form);
    return item;
  }
  var source = new EventSource("/staff/alerts/events?since=" + encodeURIComponent(list.dataset.since));
  source.addEventListener("alert", function (event) {
    var alert = JSON.parse(event.data);
    if (document.getElementById("alert-" + alert.id)) { return; }
    var none = document.getElementById("no-alerts");
    if (none) { none.remove(); }
    list.prepend(row(alert));
  });
})();
