"""Survey campaigns (issue 6): a supervisor's number list per unit, a question script and quotas; started,
paused, resumed and cancelled; progress live on the page and in `hotline campaign status`; results exported."""
