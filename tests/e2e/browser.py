"""Helpers for the page tests in headless Chromium (the fixtures are in conftest.py)."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def until(driver: webdriver.Chrome, condition: object, seconds: float = 10) -> object:
    return WebDriverWait(driver, seconds).until(condition)  # type: ignore[arg-type]


def log_in_and_take_seat(driver: webdriver.Chrome, url: str, agent_id: str, pin: str, seat: str) -> None:
    driver.get(url + "/desk")
    driver.find_element(By.ID, "agent-id").send_keys(agent_id)
    driver.find_element(By.ID, "pin").send_keys(pin)
    driver.find_element(By.ID, "login-button").click()
    until(driver, seen.visibility_of_element_located((By.ID, "seat-choice")))
    Select(driver.find_element(By.ID, "seat-choice")).select_by_value(seat)
    driver.find_element(By.ID, "seat-login").click()
    until(driver, seen.text_to_be_present_in_element((By.ID, "seat-number"), seat))


