"""Scoring the product on labelled fault-injection data: where the team's datasets are (`datasets`), the Nezha
TrainTicket importer (`nezha_import`: a case folder into a telemetry bundle and a synthesized alert) and the
harness `autosre eval nezha` runs (`nezha_eval`). The product never reads a label; bench/ measures with these.
"""
