"""Bluetooth LE gateway: standard health devices -> FHIR Observations, nothing lost.

Pipeline (each step its own module):

    radio (`bleak_link.BleakLink` | `simulated_link.SimulatedLink`, behind `link.BleLink`)
      -> `service.GatewayService.store_frame`: the frame is committed to the SQLite
         `buffer.FrameBuffer` before the handler returns (the acknowledgement)
      -> `mapper.Mapper`: `decoders.decode` + `mapping.FrameMapping` -> Observations in the outbox
         (paired devices only; other devices' frames wait in quarantine)
      -> `uploader.Uploader`: transaction bundles of conditional creates on the
         deterministic identifier, retried with backoff; survives outages and restarts.

Pure parts: `decoders` (GATT bytes -> `measurements` dataclasses, `DecodeError`),
`ieee11073` (SFLOAT/FLOAT), `mapping` (the one pass from frames to Observations on the R4
vital-signs profiles: `spot_mapping` per reading, `stream_mapping` per minute of a
stream, `observation_json` builds the JSON), `encoders`, `physiology` and `simulator`
(virtual devices emitting real GATT bytes), `history`, `to_json` (CLI output).

For the service (`bot/serve.py`, `bot/demo.py`):

(a) A background task running simulated devices for the demo patients::

        from gateway.simulated_gateway import run_simulated_gateway
        from gateway.settings import GATEWAY_SCOPES
        token = await ensure_client(sessionmaker, "gateway", GATEWAY_SCOPES)
        task = asyncio.create_task(run_simulated_gateway(
            fhir_base_url=settings.resolved_fhir_url, token=token,
            patient_ids=["<Patient id>", ...], buffer_path=settings.var_dir / "gateway.db"))
        # on shutdown: task.cancel() (or pass stop=asyncio.Event() and set it)

    Each patient gets six devices (heart-rate strap, pulse oximeter, BP cuff,
    thermometer, scale, glucose meter) with addresses derived from the patient id,
    paired to `Patient/<id>`, each a FHIR `Device` (`Device.patient`). Pass
    `http=` to share an httpx.AsyncClient, `clock=ScaledClock(...)` to run faster.

(b) A week of plausible history through GATT bytes -> decoder -> mapping, pure::

        from gateway.simulated_gateway import demo_history_bundle
        bundle = demo_history_bundle("<Patient id>", end=datetime.now(UTC), days=7)
        await fhir_client.post_bundle_json(bundle)   # Devices (PUT) + Observations

    Idempotent (conditional creates), with the same Device ids as (a). For one device:
    `gateway.history.week_of_readings(device, binding, end) -> list[ObservationRecord]`
    (each record: `identifier`, `kind`, `effective`, `resource_json`).

Command line: `carebot-gateway decode|scan|pair|run|status` and `carebot-gateway
--simulate` (`gateway/cli.py`; `carebot gateway ...` in the service); settings
`CAREBOT_GATEWAY_*` (`gateway.settings`).
"""
