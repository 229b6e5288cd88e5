// The callback manage page (/callback/{token}) renders times in UTC; this
// shows them in the visitor's own time zone, the way the widget did.
const fmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});
for (const t of document.querySelectorAll('time[datetime]')) {
  const ms = Number(t.getAttribute('datetime'));
  if (Number.isFinite(ms)) t.textContent = fmt.format(new Date(ms));
}
for (const o of document.querySelectorAll('option[data-at]')) {
  o.textContent = fmt.format(new Date(Number(o.dataset.at)));
}
